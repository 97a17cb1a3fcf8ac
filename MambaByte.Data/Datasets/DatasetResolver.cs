using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MambaByte.Data;

/// <summary>
/// Turns <c>--data</c> into an opened <see cref="ByteStore"/>: a prepared store directory; a shipped dataset
/// directory; or a dataset name (<c>kjv</c> → <c>datasets/kjv</c>, searched upward from the current directory and
/// from the application's directory). A dataset is prepared once into a cache keyed by the hash of its files and
/// the prepare settings (default <c>&lt;dataset&gt;/.store/</c>), so later runs open it at once.
/// </summary>
public static class DatasetResolver
{
    public const string DatasetsFolder = "datasets";
    public const string CacheFolder = ".store";

    public static ByteStore Resolve(string pathOrName, string? cacheDirectory = null, IProgress<PrepareProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(pathOrName)) throw new ArgumentException("--data: empty dataset path or name");
        if (Directory.Exists(pathOrName))
        {
            if (File.Exists(StoreLayout.ManifestFile(pathOrName))) return ByteStore.Open(pathOrName);
            if (File.Exists(Path.Combine(pathOrName, DatasetManifest.FileName))) return PrepareCached(pathOrName, cacheDirectory, progress, cancellationToken);
            throw new InvalidDataException($"{pathOrName}: neither a prepared store ({StoreManifest.FileName}) nor a dataset ({DatasetManifest.FileName}); run `mambabyte prepare {pathOrName} --out DIR` first");
        }
        if (File.Exists(pathOrName))
            throw new InvalidDataException($"{pathOrName}: is a file; prepare it first (`mambabyte prepare {pathOrName} --out DIR`) and pass the store directory");

        bool isName = pathOrName.IndexOfAny(['/', '\\']) < 0;
        if (isName && FindDataset(pathOrName) is { } found) return PrepareCached(found, cacheDirectory, progress, cancellationToken);
        throw new FileNotFoundException(isName
            ? $"{pathOrName}: no such store directory, and no dataset named '{pathOrName}' under a '{DatasetsFolder}' folder above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}"
            : $"{pathOrName}: no such store or dataset directory");
    }

    /// <summary>The directory <c>datasets/&lt;name&gt;</c> holding a <c>dataset.json</c>, searched upward from the current and application directories.</summary>
    public static string? FindDataset(string name)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, DatasetsFolder, name);
                if (File.Exists(Path.Combine(candidate, DatasetManifest.FileName))) return candidate;
            }
        }
        return null;
    }

    static ByteStore PrepareCached(string datasetDirectory, string? cacheDirectory, IProgress<PrepareProgress>? progress, CancellationToken cancellationToken)
    {
        string manifestPath = Path.Combine(datasetDirectory, DatasetManifest.FileName);
        DatasetManifest dataset = DatasetManifest.Load(manifestPath);
        var options = new SourceOptions(Glob: dataset.Glob);
        IReadOnlyList<double> fractions = dataset.SplitFractions ?? PrepareRequest.DefaultSplitFractions;
        string key = CacheKey(datasetDirectory, manifestPath, dataset, options, fractions);
        string storeDirectory = Path.Combine(cacheDirectory ?? Path.Combine(datasetDirectory, CacheFolder), $"{dataset.Name}-{key[..16]}");
        if (File.Exists(StoreLayout.ManifestFile(storeDirectory))) return ByteStore.Open(storeDirectory);

        try
        {
            StorePreparer.Prepare(new PrepareRequest([datasetDirectory], storeDirectory, options, fractions), progress, cancellationToken);
        }
        catch (IOException) when (File.Exists(StoreLayout.ManifestFile(storeDirectory)))
        {
            // Another process prepared the same key first; its store is identical.
        }
        return ByteStore.Open(storeDirectory);
    }

    /// <summary>Checks the dataset's files against its manifest and hashes them with the settings that shape the store.</summary>
    static string CacheKey(string datasetDirectory, string manifestPath, DatasetManifest dataset, SourceOptions options, IReadOnlyList<double> fractions)
    {
        IReadOnlyList<SourceFile> found = CorpusReader.ListFiles(datasetDirectory, options);
        string[] listed = dataset.Files.Select(f => f.Path).OrderBy(p => p, StringComparer.Ordinal).ToArray();
        string[] present = found.Select(f => f.RelativePath).ToArray();
        if (!listed.SequenceEqual(present, StringComparer.Ordinal))
            throw new InvalidDataException($"{manifestPath}: lists {listed.Length} files but glob '{dataset.Glob}' finds {present.Length} ({string.Join(", ", present.Except(listed).Concat(listed.Except(present)).Take(3))} differ)");

        var key = new StringBuilder($"mambabyte-store/{StoreManifest.CurrentFormatVersion} tool {StorePreparer.ToolVersion}\n");
        key.Append(CultureInfo.InvariantCulture, $"glob {dataset.Glob}\nfractions {string.Join(",", fractions.Select(f => f.ToString("R", CultureInfo.InvariantCulture)))}\n");
        foreach (DatasetFile file in dataset.Files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            string path = Path.Combine(datasetDirectory, file.Path);
            string actual;
            using (FileStream stream = File.OpenRead(path)) actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (!actual.Equals(file.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"{path}: SHA-256 {actual} does not match {manifestPath} ({file.Sha256}); the dataset file was changed");
            key.Append(CultureInfo.InvariantCulture, $"{file.Path} {actual}\n");
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())));
    }
}
