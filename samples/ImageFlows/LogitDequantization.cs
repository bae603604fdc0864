namespace ImageFlows;

/// <summary>
/// The standard preprocessing of 8-bit images for continuous density models (Uria et al. 2013; the logit of
/// Dinh et al. 2017, RealNVP, with the lambda of Papamakarios et al. 2017, MAF, for MNIST):
/// <code>
///   y = (x + u) / 256,  u ~ U[0, 1)^D            uniform dequantisation: y in (0, 1)
///   s = lambda + (1 - 2 lambda) y                 keeps the logit finite
///   z = logit(s) = log s - log(1 - s)             the flow models z
///   log |dz/dy| = sum_i [ log(1 - 2 lambda) - log s_i - log(1 - s_i) ]
/// </code>
/// so that log p(y) = log p_flow(z) + log |dz/dy|, and the bits per dimension of the 8-bit images are
/// <c>bpd = -(log p(y) - D log 256) / (D log 2)</c>, the figure that MAF, RealNVP and Glow report (an upper bound on
/// the discrete model's -log2 P(x) / D, by Jensen's inequality over u).
/// </summary>
internal static class LogitDequantization
{
    public const double Lambda = 1e-6;

    /// <summary>z for one image with fresh uniform noise, and log |dz/dy| (nats).</summary>
    public static (float[] Z, double LogJacobian) Forward(ReadOnlySpan<byte> pixels, Random random)
    {
        var z = new float[pixels.Length];
        double logJacobian = 0;
        for (int i = 0; i < pixels.Length; i++)
        {
            double s = Lambda + (1 - 2 * Lambda) * (pixels[i] + random.NextDouble()) / 256;
            z[i] = (float)(Math.Log(s) - Math.Log(1 - s));
            logJacobian += Math.Log(1 - 2 * Lambda) - Math.Log(s) - Math.Log(1 - s);
        }
        return (z, logJacobian);
    }

    /// <summary>The 8-bit image whose dequantisation interval contains the inverse of z.</summary>
    public static byte[] Inverse(ReadOnlySpan<float> z)
    {
        var pixels = new byte[z.Length];
        for (int i = 0; i < z.Length; i++)
        {
            double y = (1 / (1 + Math.Exp(-z[i])) - Lambda) / (1 - 2 * Lambda);
            pixels[i] = (byte)Math.Clamp(Math.Floor(256 * y), 0, 255);
        }
        return pixels;
    }

    /// <summary>Bits per dimension of an 8-bit image from the flow's log-likelihood of its z and the Jacobian.</summary>
    public static double BitsPerDimension(double logLikelihoodZ, double logJacobian, int dimension) =>
        -(logLikelihoodZ + logJacobian - dimension * Math.Log(256)) / (dimension * Math.Log(2));
}
