namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>The one test of a row's usability, shared by the engine and the ML.NET readers.</summary>
internal static class FiniteValues
{
    /// <summary>Whether every value is neither NaN nor infinite.</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v))
                return false;
        return true;
    }
}
