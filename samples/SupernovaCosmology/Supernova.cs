namespace SupernovaCosmology;

/// <summary>One type Ia supernova: redshift, distance modulus and its standard error (magnitudes).</summary>
internal sealed record Supernova(double Redshift, double DistanceModulus, double Error);
