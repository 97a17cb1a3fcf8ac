using MambaByte.Data;
using MambaByte.Train.Training;

namespace MambaByte.Train.Evaluation;

/// <summary>
/// What one evaluation scores: the bytes as one stream (windowed, carried-state), and the documents in them for the
/// document-level figure (with a byte limit, those in the first N bytes, the last one cut there), plus the byte a
/// document is read after (<see cref="DocumentStart"/>). Shared by <c>mambabyte eval</c> and <c>mambabyte compare</c>.
/// </summary>
public sealed record EvalData(string Name, string Split, byte[] Bytes, IReadOnlyList<ReadOnlyMemory<byte>> Documents, byte StartByte)
{
    /// <summary>A raw file is one document taken as is; anything else resolves to a store split (<see cref="FromStore"/>).</summary>
    public static EvalData Read(string source, string split, long maxBytes, string? cacheDir)
    {
        if (File.Exists(source))
        {
            using ByteSplit file = ByteSplit.FromFile(source);
            byte[] fileBytes = EvalBytes.Read(file, maxBytes);
            return new EvalData(Path.GetFileName(source), "file", fileBytes, [fileBytes], DocumentStart.Newline);
        }
        using ByteStore store = DatasetResolver.Resolve(source, cacheDir);
        return FromStore(store, Path.GetFileName(Path.TrimEndingDirectorySeparator(source)), split, maxBytes);
    }

    /// <summary>The first <paramref name="maxBytes"/> bytes (0 = all) of one split of an open store, and its documents in them.</summary>
    public static EvalData FromStore(ByteStore store, string name, string split, long maxBytes)
    {
        if (!store.SplitNames.Contains(split))
            throw new ArgumentException($"--data {name}: no split '{split}' (has {string.Join(", ", store.SplitNames)})");
        ByteSplit data = store.Split(split);
        byte[] bytes = EvalBytes.Read(data, maxBytes);
        var documents = new List<ReadOnlyMemory<byte>>();
        for (int i = 0; i < data.DocumentCount; i++)
        {
            (long start, long length) = data.Document(i);
            if (start >= bytes.Length) break;
            documents.Add(bytes.AsMemory((int)start, (int)Math.Min(length, bytes.Length - start)));
        }
        return new EvalData(name, split, bytes, documents, DocumentStart.For(store.Manifest.Separator));
    }
}
