// MSBuild inline task (RoslynCodeTaskFactory): marks the GLIBCXX_3.4.32 version requirement of
// libLibTorchSharp.so weak when the system libstdc++ does not provide that version.
// ELF layout references: the System V gABI (section headers) and the LSB "Symbol Versioning" chapter
// (Elf64_Verneed / Elf64_Vernaux, VER_FLG_WEAK = 2).
public class MarkLibTorchSharpGlibcxxWeak : Microsoft.Build.Utilities.Task
{
    const string Version = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = System.Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    public override bool Execute()
    {
        if (SystemProvidesVersion())
            return true;
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                string outcome = Patch(path);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "{0}: {1}", path, outcome);
            }
            catch (System.Exception e) when (e is System.IO.IOException || e is System.UnauthorizedAccessException || e is System.InvalidOperationException)
            {
                Log.LogWarning("Could not mark {0} weak in {1}: {2}", Version, path, e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemProvidesVersion()
    {
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(Version + "\0");
        foreach (string candidate in LibStdCxxCandidates)
        {
            if (!System.IO.File.Exists(candidate))
                continue;
            byte[] bytes = System.IO.File.ReadAllBytes(candidate);
            return Contains(bytes, needle);
        }
        return false; // No libstdc++ where we can see it: the weak flag is harmless, so patch.
    }

    static string Patch(string path)
    {
        byte[] elf = System.IO.File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new System.InvalidOperationException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new System.InvalidOperationException("not a 64-bit little-endian ELF file");

        ulong shoff = U64(elf, 0x28);
        int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (U32(elf, sh + 4) != ShtGnuVerneed)
                continue;
            int verneed = checked((int)U64(elf, sh + 0x18));
            uint count = U32(elf, sh + 0x2C);
            int strtabHeader = checked((int)shoff + (int)U32(elf, sh + 0x28) * shentsize);
            int strtab = checked((int)U64(elf, strtabHeader + 0x18));

            int need = verneed;
            for (uint n = 0; n < count; n++)
            {
                int aux = need + (int)U32(elf, need + 8);
                for (int a = 0; a < U16(elf, need + 2); a++)
                {
                    if (CString(elf, strtab + (int)U32(elf, aux + 8)) == Version)
                    {
                        ushort flags = U16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0)
                            return "already weak";
                        flags |= VerFlgWeak;
                        elf[aux + 4] = (byte)flags;
                        elf[aux + 5] = (byte)(flags >> 8);
                        ReplaceKeepingTimestamp(path, elf);
                        return "marked weak";
                    }
                    aux += (int)U32(elf, aux + 12);
                }
                need += (int)U32(elf, need + 12);
            }
        }
        return "no " + Version + " requirement";
    }

    // The output's file may be a hard link into the NuGet cache (CreateHardLinksForCopyLocalIfPossible, which this
    // repository sets): writing through it would patch the cache's copy too. The patched bytes go to a new file
    // (a copy, so it keeps the mode) that is then renamed over the output's name, leaving the cache's file untouched.
    static void ReplaceKeepingTimestamp(string path, byte[] patched)
    {
        System.DateTime stamp = System.IO.File.GetLastWriteTimeUtc(path);
        string staging = path + ".hamiltonianflows-patch";
        try
        {
            System.IO.File.Copy(path, staging, overwrite: true);
            System.IO.File.WriteAllBytes(staging, patched);
            System.IO.File.SetLastWriteTimeUtc(staging, stamp);
            System.IO.File.Replace(staging, path, null);
        }
        finally
        {
            // Gone after a successful Replace; after a failure (reported as a warning) no stray file is left in the output.
            if (System.IO.File.Exists(staging))
                System.IO.File.Delete(staging);
        }
    }

    // RoslynCodeTaskFactory compiles against netstandard2.0 (no spans), hence the plain loop.
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return true;
        }
        return false;
    }

    static ushort U16(byte[] b, int o) => System.BitConverter.ToUInt16(b, o);
    static uint U32(byte[] b, int o) => System.BitConverter.ToUInt32(b, o);
    static ulong U64(byte[] b, int o) => System.BitConverter.ToUInt64(b, o);

    static string CString(byte[] b, int o)
    {
        int end = System.Array.IndexOf(b, (byte)0, o);
        return System.Text.Encoding.ASCII.GetString(b, o, end - o);
    }
}
