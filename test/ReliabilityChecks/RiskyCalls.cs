using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using static TorchSharp.torch;

/// <summary>
/// Public calls that could reach a libtorch path that aborts the process: bad shapes, disposed models, and damaged
/// weights whose checksum was computed again over the damage (as a tool rewriting the file would), so that torch's own
/// reader sees it. Prints one line per call, "name: returned" or "name: threw type: message", then a summary of the
/// damaged files. A native abort ends the process early, after the name of the call it was in.
/// </summary>
internal static class RiskyCalls
{
    // The weights format: "NHFW", int version, long payload length, payload, 32-byte SHA-256 of the payload.
    private const int PayloadOffset = 16;

    public static int Run(int variants)
    {
        set_num_threads(1);
        using var data = randn(new long[] { 64, 2 }, generator: new Generator(1));
        var flow = FlowTrainer.Train(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, LeapfrogSteps = 2 }, data,
            new FlowTrainingOptions { MaxSteps = 2, BatchSize = 32, Seed = 1 }).Flow;
        byte[] saved = Saved(flow);

        Call("LogLikelihood of [n, d + 1] rows", () => flow.LogLikelihood(zeros(4, 3), 2));
        Call("LogLikelihood of a vector", () => flow.LogLikelihood(zeros(2), 2));
        Call("LogLikelihood of no rows", () => flow.LogLikelihood(zeros(0, 2), 2));
        Call("LogLikelihood of integer rows", () => flow.LogLikelihood(ones(3, 2, ScalarType.Int64), 2));
        Call("LogLikelihood with 0 samples", () => flow.LogLikelihood(zeros(3, 2), 0));
        Call("LogLikelihood with noise of the wrong shape", () => flow.LogLikelihood(zeros(3, 2), zeros(2, 4, 2)));
        Call("LogLikelihood with gradients on", () => flow.LogLikelihood(zeros(3, 2, requires_grad: true), 2).sum().backward());
        Call("Sample -1 points", () => flow.Sample(-1));
        Call("Sample 0 points", () => flow.Sample(0));
        Call("Forward with q and p of different rows", () => flow.Forward(zeros(3, 2), zeros(4, 2)));
        Call("Inverse with q and p of different widths", () => flow.Inverse(zeros(3, 2), zeros(3, 5)));
        Call("PotentialEnergyAt of layer 5", () => flow.PotentialEnergyAt(zeros(3, 2), layer: 5));
        Call("EnergyAlongTrajectory of [n, d + 1]", () => flow.EnergyAlongTrajectory(zeros(3, 3), zeros(3, 3)));
        Call("Train on [n, d + 1] rows", () => FlowTrainer.Train(new FlowArchitecture { Dimension = 2 }, zeros(8, 3), new FlowTrainingOptions { MaxSteps = 1 }));
        Call("Train on NaN rows only", () => FlowTrainer.Train(new FlowArchitecture { Dimension = 2 }, full(8, 2, double.NaN), new FlowTrainingOptions { MaxSteps = 1 }));
        Call("Load an empty stream", () => FlowWeightsFormat.Load(new MemoryStream()));
        flow.Dispose();
        Call("LogLikelihood of a disposed flow", () => flow.LogLikelihood(zeros(3, 2), 2));
        Call("Save a disposed flow", () => FlowWeightsFormat.Save(flow, new MemoryStream()));

        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 64).Select(i => new Row { Features = new[] { i % 7 * 0.3f, i % 5 * 0.2f } }));
        var model = ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { MaxSteps = 1, HiddenLayers = new[] { 8 }, Seed = 1 }).Fit(rows);
        var engine = ml.Model.CreatePredictionEngine<Row, Scored>(model);
        Call("Potential of 3 values for d = 2", () => model.Potential(new float[3]));
        Call("Sample -1 rows", () => model.Sample(-1));
        model.Dispose();
        Call("Transform with a disposed model", () => model.Transform(rows).GetColumn<float>("LogLikelihood").ToArray());
        Call("PredictionEngine of a disposed model", () => engine.Predict(new Row { Features = new[] { 1f, 2f } }));
        Call("Sample of a disposed model", () => model.Sample(3).GetColumn<float[]>("Features").ToArray());

        // Damaged weights with a valid checksum: the hash cannot tell, so torch's reader sees the damage.
        using var x = randn(new long[] { 8, 2 }, generator: new Generator(2));
        // Fixed momentum noise, so that an undamaged flow reproduces the scores bit for bit.
        using var noise = randn(new long[] { 4, 8, 2 }, generator: new Generator(3));
        float[] expected;
        using (var original = FlowWeightsFormat.Load(new MemoryStream(saved)))
        using (no_grad())
            expected = original.LogLikelihood(x, noise).data<float>().ToArray();
        byte[] payload = saved[PayloadOffset..^SHA256.HashSizeInBytes];
        int same = 0, different = 0, rejected = 0;
        for (int i = 0; i < variants; i++)
        {
            var random = new Random(i);
            byte[] damaged;
            if (i % 2 == 0)
            {
                damaged = (byte[])payload.Clone();
                int bit = random.Next(payload.Length * 8);
                damaged[bit / 8] ^= (byte)(1 << (bit % 8));
            }
            else
            {
                damaged = payload[..random.Next(payload.Length)];
            }
            Console.Out.Flush();
            try
            {
                using var loaded = FlowWeightsFormat.Load(new MemoryStream(WithPayload(saved, damaged)));
                // A flipped bit can give a feature a lattice: that flow draws dequantisation offsets too, so it takes
                // noise of another width and is a different model.
                if (loaded.NoiseWidth != noise.shape[2])
                {
                    different++;
                    continue;
                }
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                float[] got = loaded.LogLikelihood(x, noise).data<float>().ToArray();
                if (got.SequenceEqual(expected))
                    same++;
                else
                    different++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
        }
        Console.WriteLine($"damaged weights with a valid checksum: {variants}: {rejected} rejected, {same} loaded unchanged, {different} loaded as a different model");
        return 0;
    }

    private static byte[] Saved(HamiltonianFlow flow)
    {
        using var stream = new MemoryStream();
        FlowWeightsFormat.Save(flow, stream);
        return stream.ToArray();
    }

    /// <summary>The saved weights' header with another payload, its length and its SHA-256.</summary>
    private static byte[] WithPayload(byte[] saved, byte[] payload) =>
        saved[..(PayloadOffset - sizeof(long))].Concat(BitConverter.GetBytes((long)payload.Length)).Concat(payload)
            .Concat(SHA256.HashData(payload)).ToArray();

    private static void Call(string name, Action call)
    {
        Console.Write($"{name}: ");
        Console.Out.Flush();
        try
        {
            call();
            Console.WriteLine("returned");
        }
        catch (Exception e)
        {
            Console.WriteLine($"threw {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}
