namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>A fresh folder under the system's temporary path, deleted with everything in it on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    private readonly DirectoryInfo folder;

    public TemporaryFolder(string prefix) => folder = Directory.CreateTempSubdirectory(prefix);

    /// <summary>The folder's absolute path.</summary>
    public string FullName => folder.FullName;

    public void Dispose() => folder.Delete(recursive: true);
}
