namespace Microsoft.ML.HamiltonianFlows.IO;

/// <summary>
/// Replaces a file all at once: the content goes to a temporary file in the same folder, is flushed to disk, and is
/// then renamed over the target, which POSIX and NTFS do atomically within one volume. A reader therefore sees the
/// old file or the new one, never a part; a failure while writing (an exception, a full disk) leaves the old file.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes the file at <paramref name="path"/> with <paramref name="write"/>; see the class remarks.</summary>
    /// <exception cref="IOException">The temporary file could not be written or moved; the target is unchanged.</exception>
    internal static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        // Beside the target, so that the move is a rename within one file system, not a copy.
        string temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                // Durable before it becomes visible: after a crash the name points at complete content or the old file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    // The write's own exception is the one to report; a temporary file that cannot be removed must not replace it.
    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
