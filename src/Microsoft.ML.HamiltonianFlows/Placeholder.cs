namespace Microsoft.ML.HamiltonianFlows;
internal static class Placeholder { }
