using System.Reflection;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The library reaches ML.NET internals compiled against one exact release; the guard must accept that release and
/// refuse others before a late MissingMethodException could. (Run-time access to the internals themselves is
/// exercised by every save/load test of the ML.NET components.)
/// </summary>
public class MLNetVersionGuardTests
{
    [Fact]
    public void VersionGuardAcceptsTheLoadedMLNet()
    {
        MLNetVersionGuard.EnsureSupported();

        var mlnet = new[] { typeof(MLContext).Assembly, typeof(ICanSaveModel).Assembly };
        Assert.Null(MLNetVersionGuard.FindMismatch(mlnet));
        Assert.All(mlnet, a => Assert.StartsWith(
            MLNetVersionGuard.SupportedVersion,
            a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion));
    }

    [Fact]
    public void VersionGuardRejectsAnAssemblyOfAnotherVersion()
    {
        // System.Private.CoreLib's informational version is the .NET one (10.x), not 5.0.1.
        var message = MLNetVersionGuard.FindMismatch(new[] { typeof(MLContext).Assembly, typeof(object).Assembly });

        Assert.NotNull(message);
        Assert.Contains("System.Private.CoreLib", message);
        Assert.Contains(MLNetVersionGuard.SupportedVersion, message);
    }

    [Theory]
    [InlineData("5.0.1", true)]
    [InlineData("5.0.1+a4f730ec0c9106c2c9ef9e1fa34011374115fb98", true)]
    [InlineData("5.0.10", false)]
    [InlineData("5.0.2+a4f730ec", false)]
    [InlineData("5.0.1-preview.1", false)]
    [InlineData("1.0.0.0", false)]
    [InlineData(null, false)]
    public void VersionGuardMatchesOnlyTheSupportedRelease(string? informationalVersion, bool expected) =>
        Assert.Equal(expected, MLNetVersionGuard.IsSupported(informationalVersion));
}
