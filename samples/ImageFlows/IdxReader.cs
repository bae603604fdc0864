using System.Buffers.Binary;
using System.IO.Compression;

namespace ImageFlows;

/// <summary>
/// Reads the IDX files of MNIST-style data sets (LeCun's format: a big-endian magic number whose third byte is the
/// element type, 0x08 = unsigned byte, and fourth the number of dimensions, then one big-endian Int32 per dimension,
/// then the elements in row-major order), gzip-compressed when the name ends in .gz.
/// </summary>
internal static class IdxReader
{
    private const byte UnsignedByte = 0x08;

    /// <summary>An images file: n images of rows x columns unsigned bytes.</summary>
    public static ImageSet ReadImages(string imagesPath, string labelsPath)
    {
        var (imageDims, pixels) = Read(imagesPath);
        if (imageDims.Length != 3 || imageDims[1] != imageDims[2])
            throw new InvalidDataException($"{imagesPath}: expected n x side x side square images, got dimensions [{string.Join(", ", imageDims)}].");
        var (labelDims, labels) = Read(labelsPath);
        if (labelDims.Length != 1 || labelDims[0] != imageDims[0])
            throw new InvalidDataException($"{labelsPath}: expected {imageDims[0]} labels, got dimensions [{string.Join(", ", labelDims)}].");
        return new ImageSet(pixels, imageDims[1], labels.Select(b => (int)b).ToArray());
    }

    private static (int[] Dimensions, byte[] Elements) Read(string path)
    {
        using Stream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> magic = stackalloc byte[4];
        stream.ReadExactly(magic);
        if (magic[0] != 0 || magic[1] != 0 || magic[2] != UnsignedByte || magic[3] is < 1 or > 4)
            throw new InvalidDataException($"{path}: not an unsigned-byte IDX file (magic {Convert.ToHexString(magic)}).");
        var dimensions = new int[magic[3]];
        Span<byte> word = stackalloc byte[4];
        long count = 1;
        for (int i = 0; i < dimensions.Length; i++)
        {
            stream.ReadExactly(word);
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (dimensions[i] < 0)
                throw new InvalidDataException($"{path}: dimension {i} is negative ({dimensions[i]}).");
            count *= dimensions[i];
        }
        var elements = new byte[count];
        stream.ReadExactly(elements);
        return (dimensions, elements);
    }
}
