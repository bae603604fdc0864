using Microsoft.ML.Data;

namespace ImageFlows;

/// <summary>Writes 8-bit grayscale images as one PNG grid through ImageAnalytics' <see cref="MLImage"/>.</summary>
internal static class SampleGrid
{
    private const int Gap = 2;

    /// <summary>
    /// <paramref name="images"/> (each side x side, row-major) in a grid of <paramref name="columns"/>, each pixel drawn
    /// as a zoom x zoom block so that small images stay visible.
    /// </summary>
    public static void Write(string path, IReadOnlyList<byte[]> images, int side, int columns, int zoom)
    {
        int rows = (images.Count + columns - 1) / columns, cell = side * zoom + Gap;
        int width = columns * cell + Gap, height = rows * cell + Gap;
        var bgra = new byte[width * height * 4];
        Array.Fill(bgra, (byte)255); // white gaps, opaque
        for (int k = 0; k < images.Count; k++)
        {
            int top = Gap + k / columns * cell, left = Gap + k % columns * cell;
            for (int y = 0; y < side * zoom; y++)
            for (int x = 0; x < side * zoom; x++)
            {
                // The data sets store ink as high values on black; drawn that way.
                byte v = images[k][y / zoom * side + x / zoom];
                int i = 4 * ((top + y) * width + left + x);
                bgra[i] = bgra[i + 1] = bgra[i + 2] = v;
            }
        }
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bgra);
        image.Save(path);
    }
}
