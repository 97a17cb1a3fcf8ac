using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace MambaByte.Data;

/// <summary>
/// Streams sources into a packed store (see <see cref="ByteStore"/>). Memory stays at a few buffers whatever the
/// corpus size. The store is written into a temporary sibling directory and renamed into place only when complete;
/// any failure or cancellation deletes the temporary directory, so no half-written store is ever visible.
/// </summary>
public static class StorePreparer
{
    const int BufferBytes = 1 << 20;

    public static string ToolVersion => typeof(StorePreparer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static StoreManifest Prepare(PrepareRequest request, IProgress<PrepareProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (request.Sources.Count == 0) throw new ArgumentException("prepare: no sources given");
        SourceOptions options = request.SourceOptions ?? SourceOptions.Default;
        double[] fractions = ValidateFractions(request.SplitFractions ?? PrepareRequest.DefaultSplitFractions);
        if (request.Separator is < 0 or > 255) throw new ArgumentException($"--separator: {request.Separator} is not a byte value (0-255)");

        string output = Path.GetFullPath(request.OutputDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !request.Overwrite)
            throw new IOException($"{request.OutputDirectory}: already exists and is not empty (pass --force to replace it)");

        // Listing first checks every source exists before anything is written, and gives the progress total.
        var listed = request.Sources.Select(s => (Source: s, Files: CorpusReader.ListFiles(s, options))).ToList();
        long inputTotal = listed.Sum(l => l.Files.Sum(f => f.Length));

        string parent = Path.GetDirectoryName(output) ?? throw new ArgumentException($"{request.OutputDirectory}: cannot write a store at the file-system root");
        Directory.CreateDirectory(parent);
        string temporary = Path.Combine(parent, $".{Path.GetFileName(output)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            StoreManifest manifest = WriteStore(temporary, listed, options, fractions, request, inputTotal, progress, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            MoveIntoPlace(temporary, output, request.Overwrite);
            return manifest;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    static StoreManifest WriteStore(
        string directory, List<(string Source, IReadOnlyList<SourceFile> Files)> listed, SourceOptions options, double[] fractions,
        PrepareRequest request, long inputTotal, IProgress<PrepareProgress>? progress, CancellationToken cancellationToken)
    {
        var writers = StoreLayout.SplitNames.Select(name => new SplitWriter(directory, name)).ToArray();
        try
        {
            var buffer = new byte[BufferBytes];
            long inputDone = 0, written = 0, documents = 0, skipped = 0, byFolder = 0, byHash = 0;
            var sources = new List<StoreSourceInfo>();
            var clock = Stopwatch.StartNew();
            foreach ((string source, IReadOnlyList<SourceFile> files) in listed)
            {
                foreach (SourceFile file in files)
                {
                    foreach (CorpusDocument document in CorpusReader.ReadDocuments(file, options, cancellationToken))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (document.Length == 0) { skipped++; continue; }
                        int split;
                        if (document.SplitHint is { } hint)
                        {
                            split = IndexOfSplit(hint);
                            byFolder++;
                        }
                        else
                        {
                            split = HashSplit(document.SeededHash(request.Seed, buffer, cancellationToken), fractions);
                            byHash++;
                        }
                        writers[split].Write(document, request.Separator, buffer, cancellationToken);
                        written += document.Length;
                        documents++;
                        if (progress is not null && clock.ElapsedMilliseconds >= 200)
                        {
                            progress.Report(new PrepareProgress(inputDone, inputTotal, written, documents, file.FullPath));
                            clock.Restart();
                        }
                    }
                    inputDone += file.Length;
                    progress?.Report(new PrepareProgress(inputDone, inputTotal, written, documents, file.FullPath));
                }
                sources.Add(new StoreSourceInfo(source, options.Format.ToString().ToLowerInvariant(), files.Count, files.Sum(f => f.Length)));
            }
            if (documents == 0)
                throw new InvalidDataException($"{string.Join(", ", request.Sources)}: the corpus is empty (no document has any bytes)");

            StoreSplitInfo[] splits = writers.Select(w => w.Finish()).ToArray();
            foreach (SplitWriter writer in writers) writer.Dispose();
            var manifest = new StoreManifest(
                StoreManifest.CurrentFormatVersion, ToolVersion, sources,
                new SplitRule(StoreLayout.SplitNames, fractions, request.Seed, byFolder, byHash),
                request.Separator, splits, splits.Sum(s => s.Bytes), documents, skipped, ContentHash(splits, request.Separator));
            WriteAllTextDurably(StoreLayout.ManifestFile(directory), manifest.ToJson());
            return manifest;
        }
        finally
        {
            foreach (SplitWriter writer in writers) writer.Dispose();
        }
    }

    static double[] ValidateFractions(IReadOnlyList<double> fractions)
    {
        if (fractions.Count != 3)
            throw new ArgumentException($"--split-fractions: expected 3 numbers (train,validation,test), got {fractions.Count}");
        if (fractions.Any(f => double.IsNaN(f) || f < 0 || f > 1))
            throw new ArgumentException($"--split-fractions: {string.Join(",", fractions)} must each lie in [0, 1]");
        if (Math.Abs(fractions.Sum() - 1.0) > 1e-6)
            throw new ArgumentException($"--split-fractions: {string.Join(",", fractions)} must sum to 1");
        return fractions.ToArray();
    }

    static int IndexOfSplit(string name)
    {
        for (int i = 0; i < StoreLayout.SplitNames.Count; i++)
            if (StoreLayout.SplitNames[i] == name) return i;
        throw new InvalidOperationException($"unknown split '{name}'");
    }

    /// <summary>Maps the first 8 bytes of a document's seeded hash to [0, 1) and picks the split whose cumulative fraction covers it.</summary>
    internal static int HashSplit(byte[] seededHash, IReadOnlyList<double> fractions)
    {
        double u = (BinaryPrimitives.ReadUInt64LittleEndian(seededHash) >> 11) * (1.0 / (1UL << 53));
        double cumulative = 0;
        for (int i = 0; i < fractions.Count; i++)
        {
            cumulative += fractions[i];
            if (u < cumulative && fractions[i] > 0) return i;
        }
        for (int i = fractions.Count - 1; i >= 0; i--) // rounding left u above the last cumulative sum
            if (fractions[i] > 0) return i;
        return 0;
    }

    static string ContentHash(IEnumerable<StoreSplitInfo> splits, int? separator)
    {
        var text = new StringBuilder($"mambabyte-store/{StoreManifest.CurrentFormatVersion}\nseparator={separator?.ToString() ?? "none"}\n");
        foreach (StoreSplitInfo split in splits) text.Append($"{split.Name} {split.Bytes} {split.Documents} {split.Sha256}\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    static void WriteAllTextDurably(string path, string text)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(Encoding.UTF8.GetBytes(text));
        stream.Flush(flushToDisk: true);
    }

    static void MoveIntoPlace(string temporary, string output, bool overwrite)
    {
        if (Directory.Exists(output))
        {
            if (Directory.EnumerateFileSystemEntries(output).Any() && !overwrite)
                throw new IOException($"{output}: appeared while preparing; not replaced");
            string old = output + $".old-{Guid.NewGuid():N}";
            Directory.Move(output, old);
            Directory.Move(temporary, output);
            TryDelete(old);
            return;
        }
        Directory.Move(temporary, output);
    }

    static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
