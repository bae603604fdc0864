using System.Globalization;

namespace SupernovaCosmology;

/// <summary>
/// Reading and simulating (z, mu, sigma_mu) catalogues. The reader takes the common text layout of compilations such as
/// Union2.1's: one supernova per line, an optional name first, then redshift, distance modulus and its error, separated
/// by commas, tabs or spaces; lines starting with '#' and header lines before the first supernova are skipped; further columns are ignored.
/// </summary>
internal static class SupernovaCatalog
{
    public static IReadOnlyList<Supernova> Load(string path)
    {
        var supernovae = new List<Supernova>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            string[] fields = line.Split(new[] { ',', '\t', ' ' }, StringSplitOptions.RemoveEmptyEntries);
            var numbers = fields.Select(f => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : (double?)null).ToArray();
            // A name column (not a number) may come first.
            int first = numbers.Length > 0 && numbers[0] is null ? 1 : 0;
            if (numbers.Length - first < 3 || numbers.Skip(first).Take(3).Any(v => v is null))
            {
                if (supernovae.Count == 0)
                    continue; // a header
                throw new FormatException($"{path}, line {lineNumber}: expected redshift, distance modulus and error, got '{line}'.");
            }
            var sn = new Supernova(numbers[first]!.Value, numbers[first + 1]!.Value, numbers[first + 2]!.Value);
            if (!(sn.Redshift > 0) || !double.IsFinite(sn.DistanceModulus) || !(sn.Error > 0))
                throw new FormatException($"{path}, line {lineNumber}: needs z > 0, a finite distance modulus and an error > 0, got '{line}'.");
            supernovae.Add(sn);
        }
        if (supernovae.Count == 0)
            throw new FormatException($"{path} holds no supernova.");
        return supernovae;
    }

    /// <summary>
    /// A compilation-like catalogue drawn from <paramref name="truth"/>: a quarter at low redshift (log-uniform on
    /// 0.01-0.1, the nearby surveys), three fifths on 0.1-0.9 (SDSS, SNLS, ESSENCE-like), the rest on 0.9-1.4 (HST-like);
    /// errors uniform on 0.1-0.3 mag, growing with redshift on average; Gaussian scatter.
    /// </summary>
    public static IReadOnlyList<Supernova> Simulate(int count, int seed, Cosmology truth)
    {
        var random = new Random(seed);
        var redshifts = new double[count];
        for (int i = 0; i < count; i++)
        {
            double u = random.NextDouble();
            redshifts[i] = u < 0.25 ? 0.01 * Math.Pow(10, random.NextDouble())
                : u < 0.85 ? 0.1 + 0.8 * random.NextDouble()
                : 0.9 + 0.5 * random.NextDouble();
        }
        Array.Sort(redshifts);
        double[] modulus = truth.DistanceModulus(redshifts);
        return redshifts.Select((z, i) =>
        {
            double error = 0.1 + 0.1 * (z / 1.4) + 0.1 * random.NextDouble();
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return new Supernova(z, modulus[i] + error * gaussian, error);
        }).ToList();
    }

    public static void Save(IReadOnlyList<Supernova> supernovae, string path, string comment)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine($"# {comment}");
        writer.WriteLine("z,mu,sigma_mu");
        foreach (var sn in supernovae)
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sn.Redshift:F5},{sn.DistanceModulus:F5},{sn.Error:F5}"));
    }
}
