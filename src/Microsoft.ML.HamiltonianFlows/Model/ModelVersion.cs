namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The version stamp of one kind of model stream written by this library: what ML.NET's
/// <see cref="VersionInfo"/> holds, with the loader assembly filled in.
/// </summary>
/// <param name="ModelSignature">Eight characters (at most 0xFF each) that identify the stream's format.</param>
/// <param name="VerWrittenCur">The format version this code writes.</param>
/// <param name="VerReadableCur">The oldest code version that can read what this code writes.</param>
/// <param name="VerWeCanReadBack">The oldest format version this code can read.</param>
/// <param name="LoaderSignature">The name a <c>LoadableClass</c> loader is registered under (24 characters at most).</param>
internal readonly record struct ModelVersion(
    string ModelSignature, uint VerWrittenCur, uint VerReadableCur, uint VerWeCanReadBack, string LoaderSignature)
{
    // The simple name, not the full name: ML.NET calls Assembly.Load on it when loading, and a full name
    // would stop a newer build of this library from loading files an older one wrote.
    internal static readonly string LoaderAssemblyName = typeof(ModelVersion).Assembly.GetName().Name!;

    /// <summary>Creates ML.NET's header version; throws if the signature is not eight characters.</summary>
    internal VersionInfo ToVersionInfo() =>
        new(ModelSignature, VerWrittenCur, VerReadableCur, VerWeCanReadBack, LoaderAssemblyName, LoaderSignature);

    /// <summary>
    /// ML.NET's <c>CheckAtModel</c>, with a message that names the file's versions and this code's when they do not
    /// match (ML.NET's own only says "too new" or "too old").
    /// </summary>
    /// <exception cref="FormatException">The stream is not this model, or a version this code cannot read.</exception>
    internal void CheckAtModel(ModelLoadContext ctx)
    {
        var expected = ToVersionInfo();
        if (ctx.Header.ModelSignature != expected.ModelSignature)
            throw new FormatException(
                $"Cannot load {LoaderSignature}: the stream has model signature '{Signature(ctx.Header.ModelSignature)}', not " +
                $"'{ModelSignature}'; it was written by another component or is damaged.");
        try
        {
            ctx.CheckAtModel(ToVersionInfo());
        }
        catch (FormatException e)
        {
            throw new FormatException(
                $"Cannot load {LoaderSignature} (model signature {ModelSignature}): the file has format version {Format(ctx.Header.ModelVerWritten)} " +
                $"and needs a reader of at least version {Format(ctx.Header.ModelVerReadable)}; this build reads versions " +
                $"{Format(VerWeCanReadBack)} to {Format(VerWrittenCur)}. ({e.Message})", e);
        }
    }

    private static string Format(uint version) => $"0x{version:X8}";

    // VersionInfo packs the eight signature characters into a ulong, the first in the lowest byte.
    private static string Signature(ulong packed) =>
        new(Enumerable.Range(0, 8).Select(i => (char)((packed >> (8 * i)) & 0xFF)).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
