namespace ImageFlows;

/// <summary>Square 8-bit grayscale images with integer class labels, pixels row-major, image after image.</summary>
internal sealed class ImageSet
{
    public ImageSet(byte[] pixels, int side, int[] labels)
    {
        if (pixels.Length != (long)side * side * labels.Length)
            throw new ArgumentException($"{labels.Length} images of {side} x {side} need {side * side * labels.Length} pixels, got {pixels.Length}.", nameof(pixels));
        Pixels = pixels;
        Side = side;
        Labels = labels;
    }

    public byte[] Pixels { get; }
    public int Side { get; }
    public int[] Labels { get; }
    public int Count => Labels.Length;
    public int PixelsPerImage => Side * Side;

    public ReadOnlySpan<byte> Image(int i) => Pixels.AsSpan(i * PixelsPerImage, PixelsPerImage);

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageSet Select(IReadOnlyList<int> indices)
    {
        var pixels = new byte[indices.Count * PixelsPerImage];
        for (int k = 0; k < indices.Count; k++)
            Image(indices[k]).CopyTo(pixels.AsSpan(k * PixelsPerImage));
        return new ImageSet(pixels, Side, indices.Select(i => Labels[i]).ToArray());
    }

    /// <summary>The first <paramref name="count"/> images (all when there are fewer).</summary>
    public ImageSet Take(int count) => Select(Enumerable.Range(0, Math.Min(count, Count)).ToArray());

    /// <summary>
    /// Averages factor x factor blocks and rounds back to 8 bits, so the result is again an 8-bit image set whose
    /// bits per dimension are well defined (those of the smaller images, not of the originals).
    /// </summary>
    public ImageSet Downsample(int factor)
    {
        if (factor < 1 || Side % factor != 0)
            throw new ArgumentException($"The downsampling factor must divide the side {Side}, got {factor}.", nameof(factor));
        if (factor == 1)
            return this;
        int side = Side / factor;
        var pixels = new byte[Count * side * side];
        for (int i = 0; i < Count; i++)
        {
            ReadOnlySpan<byte> image = Image(i);
            for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                int sum = 0;
                for (int dr = 0; dr < factor; dr++)
                for (int dc = 0; dc < factor; dc++)
                    sum += image[(r * factor + dr) * Side + c * factor + dc];
                pixels[(i * side + r) * side + c] = (byte)Math.Round((double)sum / (factor * factor), MidpointRounding.AwayFromZero);
            }
        }
        return new ImageSet(pixels, side, Labels);
    }
}
