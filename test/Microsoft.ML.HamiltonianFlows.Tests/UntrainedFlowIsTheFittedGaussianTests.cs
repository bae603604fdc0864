using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Before any step the flow is the Gaussian fitted to its training rows: V = |q|^2/2 and K = |p|^2/2 keep the base
/// N(0, I) x N(0, I) nearly in place, and the Gaussian stage maps it to N(mean, covariance) in data units.
/// </summary>
public sealed class UntrainedFlowIsTheFittedGaussianTests
{
    private const int D = 5, TrainRows = 4000, TestRows = 1000;

    // A correlated Gaussian in data units: x = Mu + A e, e ~ N(0, I), features of very different scales.
    private static readonly double[] Mu = { 3, -1, 0.5, 100, -20 };
    private static readonly double[,] A =
    {
        { 1.0, 0, 0, 0, 0 },
        { 0.8, 0.6, 0, 0, 0 },
        { -0.3, 0.5, 0.2, 0, 0 },
        { 40, 0, 10, 30, 0 },
        { 0, 0.05, 0, 0.02, 0.01 },
    };

    private readonly ITestOutputHelper output;

    public UntrainedFlowIsTheFittedGaussianTests(ITestOutputHelper output) => this.output = output;

    private static double[,] Rows(int n, int seed)
    {
        using var e = TestFlows.Points(n, D, seed, ScalarType.Float64);
        double[] values = e.data<double>().ToArray();
        var x = new double[n, D];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < D; j++)
            {
                double sum = Mu[j];
                for (int k = 0; k <= j; k++)
                    sum += A[j, k] * values[i * D + k];
                x[i, j] = sum;
            }
        return x;
    }

    private static Tensor AsTensor(double[,] rows) => tensor(rows).to(ScalarType.Float32);

    private static FlowTrainingResult FitGaussian(double[,] train)
    {
        using var data = AsTensor(train);
        return FlowTrainer.Train(new FlowArchitecture { Dimension = D, HiddenLayers = new[] { 16 } }, data, new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0, Seed = 1 });
    }

    private static double[,] Matrix(Tensor t)
    {
        double[] flat = t.to(ScalarType.Float64).data<double>().ToArray();
        int d = (int)t.shape[0];
        var m = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                m[i, j] = flat[i * d + j];
        return m;
    }

    /// <summary>The lower Cholesky factor of a symmetric positive-definite matrix, in float64.</summary>
    private static double[,] Cholesky(double[,] s)
    {
        int d = s.GetLength(0);
        var l = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = s[i, j];
                for (int k = 0; k < j; k++)
                    sum -= l[i, k] * l[j, k];
                l[i, j] = i == j ? Math.Sqrt(sum) : sum / l[j, j];
            }
        return l;
    }

    /// <summary>log N(x; mean, L L^T) for each row, in float64.</summary>
    private static double[] LogDensity(double[,] x, double[] mean, double[,] l)
    {
        int n = x.GetLength(0), d = mean.Length;
        double logDeterminant = 0;
        for (int j = 0; j < d; j++)
            logDeterminant += 2 * Math.Log(l[j, j]);
        var result = new double[n];
        var y = new double[d];
        for (int i = 0; i < n; i++)
        {
            double quadratic = 0;
            for (int j = 0; j < d; j++)
            {
                double sum = x[i, j] - mean[j];
                for (int k = 0; k < j; k++)
                    sum -= l[j, k] * y[k];
                y[j] = sum / l[j, j];
                quadratic += y[j] * y[j];
            }
            result[i] = -0.5 * (quadratic + logDeterminant + d * Math.Log(2 * Math.PI));
        }
        return result;
    }

    [Fact]
    public void ImportanceWeightedLikelihoodOfHeldOutRowsIsTheFittedGaussiansExactLogDensity()
    {
        double[,] train = Rows(TrainRows, 1), test = Rows(TestRows, 2);
        var result = FitGaussian(train);
        using var flow = result.Flow;
        using var scope = NewDisposeScope();
        Assert.Equal(0, result.BestStep);

        double[] mean = flow.Gaussian.Mean.to(ScalarType.Float64).data<double>().ToArray();
        double[] exact = LogDensity(test, mean, Cholesky(Matrix(flow.Gaussian.CovarianceMatrix())));
        double[] estimate;
        using (no_grad())
        using (var generator = new Generator(3))
        using (var x = AsTensor(test))
            estimate = flow.LogLikelihood(x, 64, generator).to(ScalarType.Float64).data<double>().ToArray();

        double meanGap = Enumerable.Range(0, TestRows).Average(i => estimate[i] - exact[i]);
        double worstGap = Enumerable.Range(0, TestRows).Max(i => Math.Abs(estimate[i] - exact[i]));
        output.WriteLine($"mean exact log-density {exact.Average():F4}; IW(64) - exact: mean {meanGap:E3}, largest {worstGap:E3} nats");
        Assert.True(Math.Abs(meanGap) < 0.01 * D, $"IW(64) differs from the fitted Gaussian's log-density by {meanGap} nats a row on average");
        // Rows far in the tails see the leapfrog's energy error most; still a small fraction of a nat.
        Assert.True(worstGap < 0.02 * D, $"IW(64) differs from the fitted Gaussian's log-density by {worstGap} nats on some row");
    }

    [Fact]
    public void FittedCovarianceIsTheSampleCovarianceShrunkALittleAndTheLogJacobianIsMinusHalfItsLogDeterminant()
    {
        double[,] train = Rows(TrainRows, 1);
        using var flow = FitGaussian(train).Flow;
        using var scope = NewDisposeScope();

        // The sample mean and (population) covariance of the float32 rows the trainer saw, in float64.
        Tensor rows = AsTensor(train).to(ScalarType.Float64);
        Tensor centred = rows - rows.mean(new long[] { 0 });
        double[] sampleMean = rows.mean(new long[] { 0 }).data<double>().ToArray();
        double[,] sample = Matrix(centred.t().matmul(centred).DividedBy(TrainRows));
        double[,] fitted = Matrix(flow.Gaussian.CovarianceMatrix());
        double[] fittedMean = flow.Gaussian.Mean.to(ScalarType.Float64).data<double>().ToArray();

        for (int i = 0; i < D; i++)
        {
            Assert.Equal(sampleMean[i], fittedMean[i], Math.Abs(sampleMean[i]) * 1e-6 + 1e-6);
            // Shrinkage leaves the variances alone (the correlation's diagonal stays 1)...
            Assert.Equal(sample[i, i], fitted[i, i], sample[i, i] * 1e-5);
            for (int j = 0; j < i; j++)
            {
                // ...and moves each correlation a little towards 0 with 4,000 rows of 5 features.
                double sampleCorrelation = sample[i, j] / Math.Sqrt(sample[i, i] * sample[j, j]);
                double fittedCorrelation = fitted[i, j] / Math.Sqrt(fitted[i, i] * fitted[j, j]);
                Assert.InRange(Math.Abs(fittedCorrelation), Math.Abs(sampleCorrelation) * 0.98 - 1e-6, Math.Abs(sampleCorrelation) + 1e-6);
                Assert.Equal(Math.Sign(sampleCorrelation), Math.Sign(fittedCorrelation));
            }
        }

        double[,] l = Cholesky(fitted);
        double logDeterminant = Enumerable.Range(0, D).Sum(j => 2 * Math.Log(l[j, j]));
        // One row suffices: without heavier tails (the Gaussian rows here keep an infinite tail) it is the same for every row.
        Assert.True(double.IsPositiveInfinity(flow.Gaussian.Tail));
        double logJacobian = flow.Gaussian.Whiten(zeros(1, D)).LogJacobian.to(ScalarType.Float64).item<double>();
        Assert.Equal(-0.5 * logDeterminant, logJacobian, 1e-4 * Math.Abs(logDeterminant) + 1e-4);
    }
}
