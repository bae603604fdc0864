using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The density transformer at the end of an ImageAnalytics chain (PNG files on disk -> grayscale -> resize -> pixels),
/// fitted, scored, saved and loaded again in this process and in another one.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public class ImageChainTests
{
    private const int Side = 8, Resized = 4;

    internal sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    private enum Pattern { LeftBright, TopBright, Checker }

    /// <summary>
    /// An 8x8 gray image: one half bright (200) and the other dark (50) for the two halves patterns, or a 2x2-cell
    /// checkerboard; plus independent Gaussian noise (sd 12) on every pixel, so that no pixel is constant.
    /// </summary>
    private static void WritePng(string path, Pattern pattern, Random random)
    {
        var bgra = new byte[Side * Side * 4];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                bool bright = pattern switch
                {
                    Pattern.LeftBright => x < Side / 2,
                    Pattern.TopBright => y < Side / 2,
                    _ => (x / 2 + y / 2) % 2 == 0,
                };
                double noise = 12 * random.Gaussian();
                byte v = (byte)Math.Clamp(Math.Round((bright ? 200 : 50) + noise), 0, 255);
                int i = 4 * (y * Side + x);
                bgra[i] = bgra[i + 1] = bgra[i + 2] = v;
                bgra[i + 3] = 255; // Opaque: the grayscale conversion must not see a transparent image.
            }
        using var image = MLImage.CreateFromPixels(Side, Side, MLPixelFormat.Bgra32, bgra);
        image.Save(path);
    }

    /// <summary>Writes <paramref name="count"/> images of a pattern into the folder; returns their file names.</summary>
    private static ImageInput[] WriteImages(string folder, Pattern pattern, int count, Random random) =>
        Enumerable.Range(0, count).Select(i =>
        {
            string name = $"{pattern}-{i:D2}.png";
            WritePng(Path.Combine(folder, name), pattern, random);
            return new ImageInput { ImagePath = name };
        }).ToArray();

    private static IEstimator<ITransformer> Chain(MLContext ml, string folder) =>
        ml.Transforms.LoadImages("Image", folder, nameof(ImageInput.ImagePath))
            .Append(ml.Transforms.ConvertToGrayscale("Gray", "Image"))
            // Downsampling averages 2x2 blocks: both half patterns survive, the noise shrinks.
            .Append(ml.Transforms.ResizeImages("Small", Resized, Resized, "Gray"))
            // After grayscale R = G = B, so one plane carries everything; scaled to 0..1.
            .Append(ml.Transforms.ExtractPixels("Features", "Small",
                colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1 / 255f))
            .Append(ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options
            {
                MaxSteps = 90, HiddenLayers = new[] { 32, 32 }, LeapfrogSteps = 2, BatchSize = 16, Seed = 5, ScoringImportanceSamples = 4,
            }));

    private static string[] Bits(IDataView scored) => FloatBits.Of(scored.GetColumn<float>("LogLikelihood"));

    [Fact]
    public void ImageChainScoresTrainedPatternAboveOthersAndReloadsBitForBit()
    {
        var ml = new MLContext(seed: 1);
        using var folder = new TemporaryFolder("nhf-images-");
        var random = new Random(7);
        // 62 images: the flow learns one pattern (40), and is scored on 12 unseen ones of it, 8 of the other, 2 odd ones.
        var train = WriteImages(folder.FullName, Pattern.LeftBright, 40, random);
        var test = WriteImages(folder.FullName, Pattern.LeftBright, 12, random)
            .Concat(WriteImages(folder.FullName, Pattern.TopBright, 8, random))
            .Concat(WriteImages(folder.FullName, Pattern.Checker, 2, random))
            .ToArray();

        var trainView = ml.Data.LoadFromEnumerable(train);
        var model = Chain(ml, folder.FullName).Fit(trainView);
        var testView = ml.Data.LoadFromEnumerable(test);
        var scored = model.Transform(testView);

        // The pixel chain really produced the 4x4 single-plane vector the flow was fitted on.
        Assert.Equal(Resized * Resized, ((VectorDataViewType)scored.Schema["Features"].Type).Size);
        var pixels = scored.GetColumn<float[]>("Features").First();
        Assert.All(pixels, p => Assert.InRange(p, 0f, 1f));

        float[] scores = scored.GetColumn<float>("LogLikelihood").ToArray();
        Assert.Equal(test.Length, scores.Length);
        Assert.All(scores, s => Assert.True(float.IsFinite(s), $"log-likelihood {s}"));
        float[] same = scores[..12], other = scores[12..20], odd = scores[20..];
        // Every unseen image of the learnt pattern scores above every image of the other patterns, by a margin
        // in nats far above the training noise (the two patterns differ by 0.6 on half of the 16 pixels).
        string summary = $"same [{same.Min()}, {same.Max()}], other [{other.Min()}, {other.Max()}], odd [{odd.Min()}, {odd.Max()}]";
        Assert.True(same.Min() > other.Max(), summary);
        Assert.True(same.Min() > odd.Max(), summary);
        Assert.True(same.Average() - other.Average() > 10, summary);

        string[] expected = Bits(scored);
        string modelPath = Path.Combine(folder.FullName, "model.zip"), dataPath = Path.Combine(folder.FullName, "data.idv");
        ml.Model.Save(model, trainView.Schema, modelPath);
        using (var stream = File.Create(dataPath))
            ml.Data.SaveAsBinary(testView, stream);

        // In this process, with a fresh context: the chain's image steps and the flow come back from the zip.
        var reloaded = new MLContext(seed: 99).Model.Load(modelPath, out var schema);
        Assert.Contains(schema, c => c.Name == nameof(ImageInput.ImagePath));
        Assert.Equal(expected, Bits(reloaded.Transform(testView)));

        // In another process that names neither ImageAnalytics nor this library: Model.Load finds both.
        string outputPath = Path.Combine(folder.FullName, "scores.txt");
        SaveLoadTests.RunLoadCheck(modelPath, dataPath, outputPath, "LogLikelihood");
        Assert.Equal(expected, File.ReadAllLines(outputPath));
    }
}
