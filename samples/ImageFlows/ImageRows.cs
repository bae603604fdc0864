using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImageFlows;

/// <summary>One image as an ML.NET row.</summary>
internal sealed class ImageRow
{
    /// <summary>Class (0-9) for the density experiment; 1 for an anomaly, 0 for normal in the one-class one.</summary>
    public float Label { get; set; }

    /// <summary>The features the flow models: logit-dequantised or scaled pixels.</summary>
    public float[] Features { get; set; } = Array.Empty<float>();

    /// <summary>log |dz/dy| of the logit dequantisation (0 for scaled pixels), to turn densities into bits/dim.</summary>
    public float LogJacobian { get; set; }
}

/// <summary>Image sets as <see cref="IDataView"/>s with a known-size Features vector.</summary>
internal static class ImageRows
{
    /// <summary>Logit-dequantised images (fresh uniform noise from <paramref name="seed"/>), with their Jacobian.</summary>
    public static IDataView Dequantized(MLContext ml, ImageSet images, int seed)
    {
        var random = new Random(seed);
        var rows = Enumerable.Range(0, images.Count).Select(i =>
        {
            var (z, logJacobian) = LogitDequantization.Forward(images.Image(i), random);
            return new ImageRow { Label = images.Labels[i], Features = z, LogJacobian = (float)logJacobian };
        }).ToList();
        return Load(ml, rows, images.PixelsPerImage);
    }

    /// <summary>Pixels scaled to [0, 1]; Label is 1 where <paramref name="isAnomaly"/> holds for the class.</summary>
    public static IDataView Scaled(MLContext ml, ImageSet images, Func<int, bool> isAnomaly)
    {
        var rows = Enumerable.Range(0, images.Count).Select(i => new ImageRow
        {
            Label = isAnomaly(images.Labels[i]) ? 1 : 0,
            Features = images.Image(i).ToArray().Select(b => b / 255f).ToArray(),
        }).ToList();
        return Load(ml, rows, images.PixelsPerImage);
    }

    private static IDataView Load(MLContext ml, List<ImageRow> rows, int dimension)
    {
        // The vector's size is known only at run time: declared here so that the trainers see a fixed-size column.
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[nameof(ImageRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }
}
