using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Reads and writes a single versioned model stream in ML.NET's model format (a zip repository whose entry
/// starts with ML.NET's model header), outside an ML.NET pipeline: for checkpoints of a flow being trained
/// (e.g. <c>w => module.save(w)</c>) and for testing a component's serialization.
/// </summary>
internal static class ModelFormat
{
    // Where ModelSaveContext.SaveModel puts a model saved under the name "Model".
    private const string EntryDirectory = "Model";

    /// <summary>Writes a repository holding one model stream stamped with <paramref name="version"/>.</summary>
    /// <param name="stream">Receives the zip archive; left open.</param>
    /// <param name="version">The header's version stamp.</param>
    /// <param name="write">Writes the model's content after the header.</param>
    /// <param name="ectx">Reports errors, or null.</param>
    internal static void Save(Stream stream, ModelVersion version, Action<BinaryWriter> write, IExceptionContext? ectx = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(write);
        MLNetVersionGuard.EnsureSupported();

        // useFileSystem: false keeps entries in memory instead of a temporary directory.
        using var repository = RepositoryWriter.CreateNew(stream, ectx, useFileSystem: false);
        using (var ctx = new ModelSaveContext(repository, EntryDirectory, ModelLoadContext.ModelStreamName))
        {
            ctx.CheckAtModel();
            ctx.SetVersionInfo(version.ToVersionInfo());
            write(ctx.Writer);
            ctx.Done();
        }
        repository.Commit();
    }

    /// <summary>
    /// Reads a model stream written by <see cref="Save"/>. Throws if the header does not match <paramref name="version"/>
    /// (another format, a file too new or too old for this code) or if <paramref name="read"/> does not consume exactly
    /// the content that was written.
    /// </summary>
    internal static T Load<T>(Stream stream, ModelVersion version, Func<BinaryReader, T> read, IExceptionContext? ectx = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(read);
        MLNetVersionGuard.EnsureSupported();

        using var repository = RepositoryReader.Open(stream, ectx, useFileSystem: false);
        using var entry = repository.OpenEntry(EntryDirectory, ModelLoadContext.ModelStreamName);
        using var ctx = new ModelLoadContext(repository, entry, EntryDirectory);
        ctx.CheckAtModel(version.ToVersionInfo());
        var result = read(ctx.Reader);
        ctx.Done();
        return result;
    }
}
