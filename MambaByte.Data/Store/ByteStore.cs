using System.Buffers.Binary;

namespace MambaByte.Data;

/// <summary>
/// A prepared store opened for reading: <c>manifest.json</c> plus, per split, <c>{split}.bin</c> (the documents'
/// bytes back to back, memory-mapped) and <c>{split}.idx</c> (int64 start and length per document, little-endian).
/// </summary>
public sealed class ByteStore : IDisposable
{
    readonly Dictionary<string, ByteSplit> _splits;

    ByteStore(string directory, StoreManifest manifest, Dictionary<string, ByteSplit> splits)
    {
        Directory = directory;
        Manifest = manifest;
        _splits = splits;
        SplitNames = manifest.Splits.Select(s => s.Name).ToArray();
    }

    public string Directory { get; }

    public StoreManifest Manifest { get; }

    public IReadOnlyList<string> SplitNames { get; }

    public ByteSplit Split(string name) =>
        _splits.TryGetValue(name, out ByteSplit? split)
            ? split
            : throw new ArgumentException($"{Directory}: the store has no split '{name}' (available: {string.Join(", ", SplitNames)})");

    public static ByteStore Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such store directory");
        string manifestPath = StoreLayout.ManifestFile(directory);
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"{directory}: not a prepared store (no {StoreManifest.FileName}); run `mambabyte prepare` first", manifestPath);
        StoreManifest manifest = StoreManifest.Load(manifestPath);
        if (manifest.FormatVersion != StoreManifest.CurrentFormatVersion)
            throw new InvalidDataException($"{manifestPath}: store format {manifest.FormatVersion} is not supported (expected {StoreManifest.CurrentFormatVersion}); prepare it again");

        var splits = new Dictionary<string, ByteSplit>(StringComparer.Ordinal);
        try
        {
            foreach (StoreSplitInfo info in manifest.Splits)
                splits.Add(info.Name, OpenSplit(directory, info));
        }
        catch
        {
            foreach (ByteSplit split in splits.Values) split.Dispose();
            throw;
        }
        return new ByteStore(System.IO.Path.GetFullPath(directory), manifest, splits);
    }

    static ByteSplit OpenSplit(string directory, StoreSplitInfo info)
    {
        string dataPath = StoreLayout.DataFile(directory, info.Name);
        string indexPath = StoreLayout.IndexFile(directory, info.Name);
        if (!File.Exists(dataPath)) throw new FileNotFoundException($"{dataPath}: missing split file", dataPath);
        if (!File.Exists(indexPath)) throw new FileNotFoundException($"{indexPath}: missing split index", indexPath);
        long length = new FileInfo(dataPath).Length;
        if (length != info.Bytes)
            throw new InvalidDataException($"{dataPath}: holds {length} bytes but the manifest says {info.Bytes}; the store is damaged, prepare it again");

        byte[] index = File.ReadAllBytes(indexPath);
        if (index.Length != (long)info.Documents * StoreLayout.IndexEntryBytes)
            throw new InvalidDataException($"{indexPath}: holds {index.Length} bytes but {info.Documents} documents need {(long)info.Documents * StoreLayout.IndexEntryBytes}");
        var spans = new long[2 * info.Documents];
        for (int i = 0; i < spans.Length; i++)
            spans[i] = BinaryPrimitives.ReadInt64LittleEndian(index.AsSpan(8 * i, 8));
        for (int d = 0; d < info.Documents; d++)
        {
            long start = spans[2 * d], count = spans[2 * d + 1];
            if (start < 0 || count < 0 || start > length - count)
                throw new InvalidDataException($"{indexPath}: document {d} [{start}, {start + count}) lies outside the {length}-byte split");
        }
        return new ByteSplit(info.Name, dataPath, length, spans);
    }

    public void Dispose()
    {
        foreach (ByteSplit split in _splits.Values) split.Dispose();
    }
}
