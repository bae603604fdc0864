namespace Microsoft.ML.HamiltonianFlows.IO;

/// <summary>
/// CRC-32 as zip files use it (ISO-HDLC: polynomial 0xEDB88320 reflected, initial value and final xor 0xFFFFFFFF),
/// to check zip entries that .NET 10's ZipArchive reads without checking.
/// </summary>
internal sealed class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private uint state = 0xFFFFFFFFu;

    /// <summary>The CRC of everything appended so far.</summary>
    internal uint Value => ~state;

    /// <summary>Extends the CRC with <paramref name="bytes"/>.</summary>
    internal void Append(ReadOnlySpan<byte> bytes)
    {
        uint crc = state;
        foreach (byte b in bytes)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        state = crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
