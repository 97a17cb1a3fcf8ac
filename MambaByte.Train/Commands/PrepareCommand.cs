using System.CommandLine;
using System.Globalization;
using MambaByte.Data;
using Spectre.Console;

namespace MambaByte.Train.Commands;

/// <summary><c>mambabyte prepare</c>: streams text/Parquet/CSV/JSONL sources into a packed, memory-mappable byte store.</summary>
public static class PrepareCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("sources") { Description = "files or folders to read (folders recursively)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "store directory to create", Required = true };
        var format = new Option<SourceFormat>("--format") { Description = "auto (by extension), text, parquet, csv or jsonl", DefaultValueFactory = _ => SourceFormat.Auto };
        var column = new Option<string?>("--column") { Description = "Parquet/CSV column name or zero-based index (default: text)" };
        var field = new Option<string?>("--field") { Description = "JSONL field name (default: text)" };
        var delimiter = new Option<string?>("--delimiter") { Description = "CSV field separator, one character or 'tab' (default: detected)" };
        var glob = new Option<string?>("--glob") { Description = "only files of folder sources matching this glob, e.g. '*.txt' or 'data/**/*.parquet'" };
        var fractions = new Option<string>("--split-fractions") { Description = "train,validation,test fractions for hash-assigned documents", DefaultValueFactory = _ => "0.98,0.01,0.01" };
        var separator = new Option<string>("--separator") { Description = "byte written after every document: none, or 0-255 (e.g. 0, 0x1e)", DefaultValueFactory = _ => "none" };
        var seed = new Option<ulong>("--seed") { Description = "seed of the split hash", DefaultValueFactory = _ => 0UL };
        var force = new Option<bool>("--force") { Description = "replace an existing store at --out" };
        var command = new Command("prepare", "Pack text, Parquet, CSV or JSONL corpora into a byte store (train/validation/test)")
        {
            sources, output, format, column, field, delimiter, glob, fractions, separator, seed, force,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter writer = parse.InvocationConfiguration.Output;
            var request = new PrepareRequest(
                parse.GetValue(sources)!,
                parse.GetValue(output)!,
                new SourceOptions(parse.GetValue(format), parse.GetValue(column), parse.GetValue(field), ParseDelimiter(parse.GetValue(delimiter)), parse.GetValue(glob)),
                ParseFractions(parse.GetValue(fractions)!),
                ParseSeparator(parse.GetValue(separator)!),
                parse.GetValue(seed),
                parse.GetValue(force));
            StoreManifest manifest = RunWithProgress(request, writer, cancellationToken);
            writer.WriteLine($"store     {Path.GetFullPath(request.OutputDirectory)}");
            foreach (StoreSplitInfo split in manifest.Splits)
                writer.WriteLine($"{split.Name,-10}{split.Bytes,14:N0} bytes {split.Documents,10:N0} documents");
            if (manifest.SkippedEmptyDocuments > 0) writer.WriteLine($"skipped   {manifest.SkippedEmptyDocuments:N0} empty documents");
            writer.WriteLine($"hash      {manifest.ContentHash}");
            return Task.FromResult(0);
        });
        return command;
    }

    static StoreManifest RunWithProgress(PrepareRequest request, TextWriter writer, CancellationToken cancellationToken)
    {
        bool interactive = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!interactive)
        {
            var log = new PlainProgressLog(writer);
            StoreManifest result = StorePreparer.Prepare(request, log, cancellationToken);
            log.Finish();
            return result;
        }
        StoreManifest? manifest = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("prepare");
                manifest = StorePreparer.Prepare(request, new Progress(task), cancellationToken);
                task.Value = task.MaxValue;
            });
        return manifest!;
    }

    /// <summary>Reports on the caller's thread (System.Progress would post to the thread pool and reorder lines).</summary>
    sealed class Progress(ProgressTask task) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value)
        {
            task.MaxValue = Math.Max(1, value.InputBytesTotal);
            task.Value = value.InputBytesDone;
        }
    }

    /// <summary>For CI and redirected output: a line at most every two seconds with bytes/s and ETA.</summary>
    sealed class PlainProgressLog(TextWriter writer) : IProgress<PrepareProgress>
    {
        readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan _lastLine = TimeSpan.FromSeconds(-10);
        PrepareProgress? _last;

        public void Report(PrepareProgress value)
        {
            _last = value;
            if (_clock.Elapsed - _lastLine < TimeSpan.FromSeconds(2)) return;
            _lastLine = _clock.Elapsed;
            Write(value);
        }

        public void Finish()
        {
            if (_last is not null) Write(_last);
        }

        void Write(PrepareProgress p)
        {
            double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
            double rate = p.InputBytesDone / seconds;
            string eta = rate > 0 ? TimeSpan.FromSeconds((p.InputBytesTotal - p.InputBytesDone) / rate).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "--:--:--";
            double percent = p.InputBytesTotal == 0 ? 100 : 100.0 * p.InputBytesDone / p.InputBytesTotal;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prepare {percent,5:F1}%  {p.InputBytesDone / 1e6:F1}/{p.InputBytesTotal / 1e6:F1} MB  {rate / 1e6:F1} MB/s  ETA {eta}  {p.Documents:N0} documents"));
        }
    }

    internal static char? ParseDelimiter(string? text) => text switch
    {
        null => null,
        "tab" or "\\t" or "\t" => '\t',
        { Length: 1 } => text[0],
        _ => throw new ArgumentException($"--delimiter: '{text}' is not one character (use 'tab' for a tab)"),
    };

    internal static IReadOnlyList<double> ParseFractions(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"--split-fractions: '{parts[i]}' is not a number");
        return values;
    }

    internal static int? ParseSeparator(string text)
    {
        if (text.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (int.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value is >= 0 and <= 255)
            return value;
        throw new ArgumentException($"--separator: '{text}' is not 'none' or a byte value 0-255");
    }
}
