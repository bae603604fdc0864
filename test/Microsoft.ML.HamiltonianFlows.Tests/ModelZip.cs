using System.IO.Compression;
using System.Text;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Reads and edits the entries of a saved ML.NET model (a zip) to make damaged and foreign files.</summary>
internal static class ModelZip
{
    // ML.NET's model stream header: the eight-character model signature at 0x40, the written and readable versions after it.
    private const int SignatureOffset = 0x40;

    /// <summary>Rewrites the zip (with fresh CRCs) with every entry whose content <paramref name="edit"/> changes (non-null).</summary>
    public static byte[] EditEntries(byte[] zip, Func<string, byte[], byte[]?> edit)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                byte[] content = Read(entry);
                byte[] bytes = edit(entry.FullName, content) ?? content;
                using var t = target.CreateEntry(entry.FullName).Open();
                t.Write(bytes);
            }
        }
        return output.ToArray();
    }

    /// <summary>The content of the first entry whose name ends with <paramref name="suffix"/>.</summary>
    public static byte[] Entry(byte[] zip, string suffix)
    {
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        return Read(archive.Entries.First(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal)));
    }

    /// <summary>Whether an entry is an ML.NET model stream with this model signature.</summary>
    public static bool HasSignature(byte[] stream, string signature) =>
        stream.Length >= SignatureOffset + 16 && stream.AsSpan(SignatureOffset, 8).SequenceEqual(Encoding.ASCII.GetBytes(signature));

    /// <summary>
    /// A copy of a model stream with model signature <paramref name="signature"/> given another signature and/or another
    /// written and readable version; null (no edit) for any other stream.
    /// </summary>
    public static byte[]? WithHeader(byte[] stream, string signature, uint? version = null, string? newSignature = null)
    {
        if (!HasSignature(stream, signature))
            return null;
        var copy = (byte[])stream.Clone();
        if (newSignature is not null)
            Encoding.ASCII.GetBytes(newSignature).CopyTo(copy, SignatureOffset);
        if (version is uint v)
        {
            BitConverter.TryWriteBytes(copy.AsSpan(SignatureOffset + 8), v);
            BitConverter.TryWriteBytes(copy.AsSpan(SignatureOffset + 12), v);
        }
        return copy;
    }

    /// <summary>
    /// Offset in the raw zip of the (compressed) data of the first entry whose name ends with <paramref name="suffix"/>,
    /// from its local file header: 30 fixed bytes, the name (length at 26) and the extra field (length at 28).
    /// </summary>
    public static int EntryDataOffset(byte[] zip, string suffix)
    {
        byte[] name = Encoding.UTF8.GetBytes(suffix);
        for (int i = 0; i + 30 <= zip.Length; i++)
        {
            if (!zip.AsSpan(i, 4).SequenceEqual("PK\u0003\u0004"u8))
                continue;
            int nameLength = BitConverter.ToUInt16(zip, i + 26), extraLength = BitConverter.ToUInt16(zip, i + 28);
            if (zip.AsSpan(i + 30, nameLength).EndsWith(name))
                return i + 30 + nameLength + extraLength;
        }
        throw new InvalidOperationException($"No entry ending with '{suffix}'.");
    }

    /// <summary>
    /// A copy of the zip whose entry ending with <paramref name="suffix"/> records another CRC-32, in its local header
    /// (at 14) and in the central directory (at 16; name length at 28, name at 46), its content unchanged.
    /// </summary>
    public static byte[] WithEntryCrc(byte[] zip, string suffix, uint crc)
    {
        byte[] copy = (byte[])zip.Clone();
        byte[] name = Encoding.UTF8.GetBytes(suffix);
        int written = 0;
        for (int i = 0; i + 46 <= zip.Length; i++)
        {
            bool local = zip.AsSpan(i, 4).SequenceEqual("PK\u0003\u0004"u8), central = zip.AsSpan(i, 4).SequenceEqual("PK\u0001\u0002"u8);
            if (!local && !central)
                continue;
            int nameAt = local ? i + 30 : i + 46, nameLength = BitConverter.ToUInt16(zip, local ? i + 26 : i + 28);
            if (zip.AsSpan(nameAt, nameLength).EndsWith(name))
            {
                BitConverter.TryWriteBytes(copy.AsSpan(local ? i + 14 : i + 16), crc);
                written++;
            }
        }
        if (written != 2)
            throw new InvalidOperationException($"Expected a local and a central header for '{suffix}', found {written}.");
        return copy;
    }

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using var content = new MemoryStream();
        using (var s = entry.Open())
            s.CopyTo(content);
        return content.ToArray();
    }
}
