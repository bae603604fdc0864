using System.IO.Compression;
using System.Reflection;
using Microsoft.ML.HamiltonianFlows.IO;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Safer model files for <c>mlContext.Model</c>, for any ML.NET model: <see cref="SaveAtomically"/> never leaves a
/// half-written file, and <see cref="LoadVerified"/> checks every entry's checksum and names the file in its errors.
/// </summary>
/// <remarks>
/// ML.NET 5.0.1's <c>Save(model, schema, filePath)</c> truncates the file and writes it in place, so a failure
/// part-way destroys the previous model; its <c>Load(filePath)</c> reads the zip with .NET's ZipArchive, which in .NET 10
/// does not check the CRC-32 that the zip stores for each entry, and its errors do not name the file.
/// </remarks>
public static class ModelFileCatalog
{
    /// <summary>
    /// Saves <paramref name="model"/> like <c>Save(model, inputSchema, filePath)</c>, but to a temporary file beside
    /// <paramref name="filePath"/>, flushed to disk and then moved over it: readers see the old file or the new one, and
    /// a failure while saving (an exception from a component, a full disk) leaves the old file as it was.
    /// </summary>
    /// <param name="catalog">The context's model operations, <c>mlContext.Model</c>.</param>
    /// <param name="model">The trained model.</param>
    /// <param name="inputSchema">The schema of the model's input, saved with it (may be null).</param>
    /// <param name="filePath">Where the model is written.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        AtomicFile.Write(filePath, stream => catalog.Save(model, inputSchema, stream));
    }

    /// <summary>
    /// Loads a model like <c>Load(filePath, out inputSchema)</c> after checking that the file is a complete zip and
    /// that every entry matches its CRC-32; any failure is an <see cref="InvalidDataException"/> naming the file and
    /// the problem (the entry, or the component's own message).
    /// </summary>
    /// <param name="catalog">The context's model operations, <c>mlContext.Model</c>.</param>
    /// <param name="filePath">The model file.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, or a component cannot read its part.</exception>
    public static ITransformer LoadVerified(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var file = File.OpenRead(filePath);
        try
        {
            VerifyEntries(file);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Model file '{filePath}' is damaged: {e.Message}", e);
        }
        file.Position = 0;
        try
        {
            return catalog.Load(file, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Cannot load model file '{filePath}': {Describe(e)}", e);
        }
    }

    // ML.NET creates components by reflection and wraps their errors: the messages of the chain, without the wrappers'
    // "Exception has been thrown by the target of an invocation.", say what failed.
    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is not TargetInvocationException && !messages.Contains(inner.Message))
                messages.Add(inner.Message);
        }
        return string.Join(": ", messages);
    }

    /// <summary>Reads every entry of a zip and compares it with its stored CRC-32 and length.</summary>
    private static void VerifyEntries(Stream zip)
    {
        using var archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
        var buffer = new byte[81920];
        foreach (var entry in archive.Entries)
        {
            var crc = new Crc32();
            long length = 0;
            try
            {
                using var content = entry.Open();
                int read;
                while ((read = content.Read(buffer, 0, buffer.Length)) > 0)
                {
                    crc.Append(buffer.AsSpan(0, read));
                    length += read;
                }
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException)
            {
                throw new InvalidDataException($"entry '{entry.FullName}' cannot be read: {e.Message}", e);
            }
            if (length != entry.Length || crc.Value != entry.Crc32)
                throw new InvalidDataException(
                    $"entry '{entry.FullName}' has {length} bytes with CRC-32 {crc.Value:X8}; the zip records {entry.Length} bytes with CRC-32 {entry.Crc32:X8}.");
        }
    }
}
