using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Public calls that could reach a libtorch path that aborts the process, run by test/ReliabilityChecks in a process of its
/// own: the process must exit normally, every bad call having thrown a managed exception that says what was wrong.
/// </summary>
public sealed class RiskyCallTests
{
    private const int DamagedFiles = 100;

    private readonly ITestOutputHelper output;

    public RiskyCallTests(ITestOutputHelper output) => this.output = output;

    // Each call's expected outcome: "returned", or the start of "threw <type>: <message>".
    public static TheoryData<string, string> Expected() => new()
    {
        { "LogLikelihood of [n, d + 1] rows", "threw ArgumentException: Expected data of shape [n, 2]" },
        { "LogLikelihood of a vector", "threw ArgumentException: Expected data of shape [n, 2]" },
        { "LogLikelihood of no rows", "returned" },
        { "LogLikelihood of integer rows", "returned" },
        { "LogLikelihood with 0 samples", "threw ArgumentException: samples must be at least 1" },
        { "LogLikelihood with noise of the wrong shape", "threw ArgumentException: Expected noise of shape" },
        { "LogLikelihood with gradients on", "returned" },
        { "Sample -1 points", "threw ArgumentException: n must not be negative" },
        { "Sample 0 points", "returned" },
        { "Forward with q and p of different rows", "threw ArgumentException: Expected q and p of one shape" },
        { "Inverse with q and p of different widths", "threw ArgumentException: Expected q and p of one shape" },
        { "PotentialEnergyAt of layer 5", "threw ArgumentOutOfRangeException" },
        { "EnergyAlongTrajectory of [n, d + 1]", "threw ArgumentException: Expected data of shape [n, 2]" },
        { "Train on [n, d + 1] rows", "threw ArgumentException: Expected data of shape [n, 2]" },
        { "Train on NaN rows only", "threw ArgumentException: The training data has no rows with finite values" },
        { "Load an empty stream", "threw InvalidDataException: Not Hamiltonian flow weights" },
        { "LogLikelihood of a disposed flow", "threw InvalidOperationException: Tensor invalid" },
        { "Save a disposed flow", "threw ObjectDisposedException: Cannot save a flow that has been disposed" },
        { "Potential of 3 values for d = 2", "threw ArgumentException: Expected a positive multiple of the dimension 2" },
        { "Sample -1 rows", "threw ArgumentOutOfRangeException: must not be negative" },
        { "Transform with a disposed model", "threw ObjectDisposedException: This Hamiltonian flow model was disposed" },
        { "PredictionEngine of a disposed model", "threw ObjectDisposedException: This Hamiltonian flow model was disposed" },
        { "Sample of a disposed model", "threw ObjectDisposedException: This Hamiltonian flow model was disposed" },
    };

    private static readonly Lazy<(int ExitCode, string Output)> Run = new(() => ChildProcess.RunDotnet(
        Path.Combine(AppContext.BaseDirectory, "ReliabilityChecks.dll"),
        new[] { "risky-calls", DamagedFiles.ToString() }));

    [Fact]
    public void TheProcessMakingTheRiskyCallsExitsNormally()
    {
        var (exitCode, text) = Run.Value;
        output.WriteLine(text);
        Assert.True(exitCode == 0, $"ReliabilityChecks risky-calls exited with {exitCode} (134: SIGABRT, 139: SIGSEGV); its output ends: {text[^Math.Min(2000, text.Length)..]}");
        // Damaged weights with a recomputed checksum reach torch's reader: each is rejected or loads, none ends the process.
        Assert.Contains($"damaged weights with a valid checksum: {DamagedFiles}:", text);
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void EachRiskyCallReturnsOrThrowsAManagedExceptionSayingWhy(string call, string outcome)
    {
        string? line = Run.Value.Output.Split('\n').FirstOrDefault(l => l.StartsWith(call + ": ", StringComparison.Ordinal));
        Assert.NotNull(line);
        Assert.StartsWith(outcome, line[(call.Length + 2)..]);
    }
}
