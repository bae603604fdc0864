using Microsoft.ML.Data;

/// <summary>A two-dimensional input row of the checks.</summary>
internal sealed class Row
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>A scored row, as a PredictionEngine returns it.</summary>
internal sealed class Scored
{
    public float LogLikelihood { get; set; }
}
