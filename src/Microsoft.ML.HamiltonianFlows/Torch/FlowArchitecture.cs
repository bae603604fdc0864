using TorchSharp;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Everything that determines the shape of a <see cref="HamiltonianFlow"/>. It is written into the header of
/// saved weights, so a file always loads into the architecture it was trained with.
/// </summary>
public sealed record FlowArchitecture
{
    /// <summary>Dimension d of the data q (the phase space is R^d x R^d). Required, at least 1.</summary>
    public int Dimension { get; init; }

    /// <summary>Hidden layer widths of the potential V(q) (and of a neural K(p)). Default 64, 64.</summary>
    public IReadOnlyList<int> HiddenLayers { get; init; } = Training.FlowDefaults.HiddenLayers();

    /// <summary>Hidden layer widths of the momentum encoder; null uses <see cref="HiddenLayers"/>. Default null.</summary>
    public IReadOnlyList<int>? EncoderHiddenLayers { get; init; }

    /// <summary>Nonlinearity of every network. Default <see cref="Torch.Activation.Softplus"/>.</summary>
    public Activation Activation { get; init; } = Training.FlowDefaults.Activation;

    /// <summary>Fixed quadratic (the paper's variant) or neural kinetic energy. Default Quadratic.</summary>
    public KineticEnergyKind Kinetic { get; init; } = Training.FlowDefaults.Kinetic;

    /// <summary>Mass of the quadratic kinetic energy; ignored for a neural one. Default Identity.</summary>
    public MassKind Mass { get; init; } = Training.FlowDefaults.Mass;

    /// <summary>Leapfrog steps L per Hamiltonian. Default 4.</summary>
    public int LeapfrogSteps { get; init; } = Training.FlowDefaults.LeapfrogSteps;

    /// <summary>Leapfrog step size eps (its initial value when learned), &gt; 0. Default 0.15.</summary>
    public double StepSize { get; init; } = Training.FlowDefaults.StepSize;

    /// <summary>Whether eps is a trained parameter (kept positive as exp of a log). Default true.</summary>
    public bool LearnStepSize { get; init; } = Training.FlowDefaults.LearnStepSize;

    /// <summary>
    /// Number T of Hamiltonians integrated one after the other, each with its own networks and step size
    /// (the layering of the original NHF). 1 means a single shared Hamiltonian. Default 4: on held-out training rows of
    /// the tabular benchmark sets, 4 Hamiltonians of 4 steps fitted better than 1 of 8 or 2 of 8 at about the same cost
    /// (docs/anomaly-benchmark.md).
    /// </summary>
    public int Hamiltonians { get; init; } = Training.FlowDefaults.Hamiltonians;

    /// <summary>
    /// Whether each potential has a well per coordinate, V(q) = |q|^2 / 2 - sum_i a_i log cosh(b_i (q_i - c_i)) + f(q)
    /// (<see cref="Potential"/>), or the network alone, V(q) = |q|^2 / 2 + f(q), as in the paper. Default null: wells
    /// from <see cref="SeparableWellsMinDimension"/> features on, where the data have more coordinates than the default
    /// network has units. There, on Fashion-MNIST in logit space, the fit's held-out loss fell ten times as far as with
    /// the network alone; on the tabular training files (8 to 36 features) the gain was within the seeds' spread and the
    /// samples' means and spreads moved further from the data's (docs/anomaly-benchmark.md).
    /// </summary>
    public bool? SeparableWells { get; init; }

    /// <summary>The narrowest data for which a null <see cref="SeparableWells"/> means wells: 65 features.</summary>
    public const int SeparableWellsMinDimension = 65;

    /// <summary><see cref="SeparableWells"/> with null resolved by <see cref="Dimension"/>.</summary>
    public bool ResolvedSeparableWells => SeparableWells ?? Dimension >= SeparableWellsMinDimension;

    /// <summary>
    /// Covariance of the Gaussian the flow starts from (<see cref="GaussianStage"/>). Default Automatic: full up to
    /// <see cref="FullCovarianceMaxDimension"/> features, low rank above.
    /// </summary>
    public CovarianceKind Covariance { get; init; } = Training.FlowDefaults.Covariance;

    /// <summary>The widest data for which <see cref="CovarianceKind.Automatic"/> means a full covariance: 1,024 features.</summary>
    public const int FullCovarianceMaxDimension = 1024;

    /// <summary>
    /// The largest rank of a <see cref="CovarianceKind.LowRank"/> correlation: 256 directions, a d x 256 basis (4 MB in
    /// float32 at d = 4,096) and 512 d multiply-adds per row.
    /// </summary>
    public const int MaxRank = 256;

    /// <summary><see cref="Covariance"/> with Automatic resolved by <see cref="Dimension"/>.</summary>
    public CovarianceKind ResolvedCovariance => Covariance switch
    {
        CovarianceKind.Automatic => Dimension <= FullCovarianceMaxDimension ? CovarianceKind.Full : CovarianceKind.LowRank,
        _ => Covariance,
    };

    /// <summary>Floating-point type of parameters and computations: Float32 (default) or Float64.</summary>
    public torch.ScalarType Precision { get; init; } = torch.ScalarType.Float32;

    internal IReadOnlyList<int> EncoderLayers => EncoderHiddenLayers ?? HiddenLayers;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Dimension < 1)
            throw new ArgumentException($"{nameof(Dimension)} must be at least 1, got {Dimension}.", nameof(Dimension));
        ValidateLayers(HiddenLayers, nameof(HiddenLayers));
        if (EncoderHiddenLayers is not null)
            ValidateLayers(EncoderHiddenLayers, nameof(EncoderHiddenLayers));
        if (LeapfrogSteps < 1)
            throw new ArgumentException($"{nameof(LeapfrogSteps)} must be at least 1, got {LeapfrogSteps}.", nameof(LeapfrogSteps));
        if (!(StepSize > 0) || double.IsInfinity(StepSize))
            throw new ArgumentException($"{nameof(StepSize)} must be positive and finite, got {StepSize}.", nameof(StepSize));
        if (Hamiltonians < 1)
            throw new ArgumentException($"{nameof(Hamiltonians)} must be at least 1, got {Hamiltonians}.", nameof(Hamiltonians));
        if (Precision != torch.ScalarType.Float32 && Precision != torch.ScalarType.Float64)
            throw new ArgumentException($"{nameof(Precision)} must be Float32 or Float64, got {Precision}.", nameof(Precision));
        if (!Enum.IsDefined(Activation))
            throw new ArgumentException($"{nameof(Activation)} {Activation} is not defined.", nameof(Activation));
        if (!Enum.IsDefined(Kinetic))
            throw new ArgumentException($"{nameof(Kinetic)} {Kinetic} is not defined.", nameof(Kinetic));
        if (!Enum.IsDefined(Covariance))
            throw new ArgumentException($"{nameof(Covariance)} {Covariance} is not defined.", nameof(Covariance));
        if (!Enum.IsDefined(Mass))
            throw new ArgumentException($"{nameof(Mass)} {Mass} is not defined.", nameof(Mass));
    }

    private static void ValidateLayers(IReadOnlyList<int>? layers, string name)
    {
        if (layers is null || layers.Count == 0)
            throw new ArgumentException($"{name} must name at least one hidden layer.", name);
        for (int i = 0; i < layers.Count; i++)
            if (layers[i] < 1)
                throw new ArgumentException($"{name}[{i}] must be at least 1, got {layers[i]}.", name);
    }
}
