using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Damages a saved model in many seeded random ways and loads each copy. Runs in this process: a damaged flow-weights
/// stream fails its SHA-256 before torch reads a byte of it, so no damaged input reaches native code.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class ModelFileFuzzTests
{
    // 200 by default (a few seconds); NHF_FUZZ_VARIANTS sets another count, a multiple of 4, for longer runs by hand.
    private static readonly int Variants = int.TryParse(Environment.GetEnvironmentVariable("NHF_FUZZ_VARIANTS"), out int n) && n >= 4 ? n / 4 * 4 : 200;

    private readonly ITestOutputHelper output;

    public ModelFileFuzzTests(ITestOutputHelper output) => this.output = output;

    private enum Damage { FlippedBit, OverwrittenBytes, Truncated, FlippedWeightsBit }

    private static byte[] Damaged(byte[] zip, Damage damage, Random random)
    {
        byte[] copy = (byte[])zip.Clone();
        switch (damage)
        {
            case Damage.FlippedBit:
                int bit = random.Next(zip.Length * 8);
                copy[bit / 8] ^= (byte)(1 << (bit % 8));
                return copy;
            case Damage.OverwrittenBytes:
                for (int n = random.Next(1, 5); n > 0; n--)
                    copy[random.Next(zip.Length)] = (byte)random.Next(256);
                return copy;
            case Damage.Truncated:
                return zip[..random.Next(zip.Length)];
            default:
                // Inside the flow's weights, with the zip rewritten around them: the zip's CRC-32 is valid, only the
                // weights' own checksum can tell.
                return ModelZip.EditEntries(zip, (name, bytes) =>
                {
                    if (!name.EndsWith("FlowWeights", StringComparison.Ordinal))
                        return null;
                    int b = random.Next(bytes.Length * 8);
                    bytes[b / 8] ^= (byte)(1 << (b % 8));
                    return bytes;
                });
        }
    }

    [Fact]
    public void EveryDamagedModelFileFailsWithAMessageOrLoadsUnchanged()
    {
        var (ml, model, schema, test) = ModelFileTests.SmallModel();
        float[] expected = ModelFileTests.Scores(model, test);
        using var stream = new MemoryStream();
        ml.Model.Save(model, schema, stream);
        byte[] zip = stream.ToArray();
        using var folder = new TemporaryFolder("nhf-fuzz-");
        var outcomes = new Dictionary<string, int>();
        int plainDifferent = 0;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < Variants; i++)
        {
            var damage = (Damage)(i % 4);
            byte[] variant = Damaged(zip, damage, new Random(i));
            string path = Path.Combine(folder.FullName, $"variant-{i}.zip");
            File.WriteAllBytes(path, variant);
            string outcome;
            try
            {
                var loaded = ml.Model.LoadVerified(path, out _);
                Assert.True(expected.SequenceEqual(ModelFileTests.Scores(loaded, test)), $"variant {i} ({damage}) loaded as a different model");
                outcome = "loaded unchanged";
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(path, e.Message);
                outcome = "rejected";
            }
            outcomes[$"{damage}: {outcome}"] = outcomes.GetValueOrDefault($"{damage}: {outcome}") + 1;

            // ML.NET's own Load: the weights' checksum must catch what the zip cannot.
            try
            {
                if (!expected.SequenceEqual(ModelFileTests.Scores(ml.Model.Load(new MemoryStream(variant), out _), test)))
                    plainDifferent++;
                Assert.NotEqual(Damage.FlippedWeightsBit, damage);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                // The checksum, or for a flip in the first 16 bytes the magic, version or length, rejects it, as a
                // FormatException inside ML.NET's wrappers (the type of ML.NET's own decoding errors).
                if (damage == Damage.FlippedWeightsBit)
                {
                    Assert.Contains("Hamiltonian flow weights", SaveLoadTests.AllMessages(e));
                    Exception inner = e;
                    while (inner.InnerException is { } next && inner is not FormatException)
                        inner = next;
                    Assert.IsType<FormatException>(inner);
                }
            }
            File.Delete(path);
        }
        foreach (var (key, count) in outcomes.OrderBy(o => o.Key))
            output.WriteLine($"{count,4}  {key}");
        output.WriteLine($"plain mlContext.Model.Load: {plainDifferent} of {Variants} variants loaded as a different model without an error");
        output.WriteLine($"{Variants} variants of a {zip.Length}-byte model in {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(Variants / 4, outcomes.GetValueOrDefault($"{Damage.FlippedWeightsBit}: rejected"));
        Assert.Equal(Variants / 4, outcomes.GetValueOrDefault($"{Damage.Truncated}: rejected"));
    }
}
