using System.Reflection;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Refuses to run against an ML.NET other than the one this assembly was compiled against.
/// </summary>
/// <remarks>
/// This assembly calls ML.NET members that are not part of its public contract (see
/// Build/IgnoresAccessChecksToAttribute.cs), and every ML.NET release has assembly version 1.0.0.0, so the
/// loader binds any release without complaint and a changed internal member would only fail later, with a
/// MissingMethodException in the middle of a save or a load. Entry points (estimators, model loaders) call
/// <see cref="EnsureSupported"/> to fail early, with a message that says what to do.
/// </remarks>
internal static class MLNetVersionGuard
{
    /// <summary>The Microsoft.ML package version this assembly is compiled against; keep it equal to the pin in the project file.</summary>
    internal const string SupportedVersion = "5.0.1";

    // The assemblies whose internals this library uses.
    private static readonly Assembly[] s_checkedAssemblies =
    {
        typeof(ModelSaveContext).Assembly, // Microsoft.ML.Core
        typeof(MLContext).Assembly,        // Microsoft.ML.Data
    };

    private static readonly Lazy<string?> s_failure = new(() => FindMismatch(s_checkedAssemblies));

    /// <summary>Throws <see cref="InvalidOperationException"/> unless the loaded ML.NET is <see cref="SupportedVersion"/>.</summary>
    internal static void EnsureSupported()
    {
        if (s_failure.Value is { } message)
            throw new InvalidOperationException(message);
    }

    /// <summary>Returns a message for the first assembly that is not <see cref="SupportedVersion"/>, or null when all are.</summary>
    internal static string? FindMismatch(IEnumerable<Assembly> assemblies)
    {
        foreach (var assembly in assemblies)
        {
            var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            if (!IsSupported(version))
            {
                return $"Microsoft.ML.HamiltonianFlows requires ML.NET {SupportedVersion}, but {assembly.GetName().Name} " +
                       $"{version ?? "(no informational version)"} was loaded from '{assembly.Location}'. " +
                       $"Reference Microsoft.ML {SupportedVersion} exactly, or a Microsoft.ML.HamiltonianFlows built for your ML.NET version.";
            }
        }
        return null;
    }

    /// <summary>
    /// True for "5.0.1" and "5.0.1+commit"; false for other releases, including "5.0.10" and prereleases such as "5.0.1-preview".
    /// </summary>
    internal static bool IsSupported(string? informationalVersion) =>
        informationalVersion is not null
        && informationalVersion.StartsWith(SupportedVersion, StringComparison.Ordinal)
        && (informationalVersion.Length == SupportedVersion.Length || informationalVersion[SupportedVersion.Length] == '+');
}
