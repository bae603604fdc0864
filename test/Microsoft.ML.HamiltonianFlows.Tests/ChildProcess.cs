using System.Diagnostics;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Runs a built .NET program in a process of its own, as a user would.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// How long a child may run before it is taken for hung and killed. A hang guard, not a speed check: the longest
    /// child (the cosmology sample's quick run) took up to 53 s on this project's 2 cores under other load, and a
    /// slower or busier machine must still pass.
    /// </summary>
    private static readonly TimeSpan HangTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Runs <c>dotnet dll args</c>; returns its exit code and everything it printed. Kills it if it hangs.</summary>
    public static (int ExitCode, string Output) RunDotnet(string dll, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        // Both streams are drained at once so that a full pipe can never block the child.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(HangTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(dll)} did not finish within {HangTimeout}.");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>
    /// Path of a project's built program beside this repository's test output, in the same configuration
    /// (bin/Debug or bin/Release), for projects built but deliberately not referenced as assemblies.
    /// </summary>
    public static string RepositoryProgram(string projectFolder, string assemblyName)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)); // .../bin/<configuration>/<tfm>
        string framework = output.Name, configuration = output.Parent!.Name;
        string root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName; // test/<project>/bin/<configuration>/<tfm>
        return Path.Combine(root, projectFolder, "bin", configuration, framework, assemblyName + ".dll");
    }
}
