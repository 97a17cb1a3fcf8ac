using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using Parquet;
using Parquet.Schema;

namespace MambaByte.Data;

/// <summary>
/// Finds the files of a source (a file, or a folder searched recursively in ordinal path order, hidden entries
/// skipped) and streams their documents: a text file is one document (bytes as they are); a Parquet row, CSV
/// record or JSONL line is one document (the chosen column or field). Parquet is read one row group at a time.
/// </summary>
public static class CorpusReader
{
    static readonly Dictionary<string, string> SplitFolderNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["train"] = StoreLayout.Train, ["training"] = StoreLayout.Train,
        ["validation"] = StoreLayout.Validation, ["valid"] = StoreLayout.Validation, ["val"] = StoreLayout.Validation, ["dev"] = StoreLayout.Validation,
        ["test"] = StoreLayout.Test,
    };

    public static IReadOnlyList<SourceFile> ListFiles(string source, SourceOptions options)
    {
        if (File.Exists(source))
        {
            string name = Path.GetFileName(source);
            return [new SourceFile(Path.GetFullPath(source), name, ResolveFormat(source, options.Format), FileNameSplit(name), new FileInfo(source).Length)];
        }
        if (!Directory.Exists(source)) throw new FileNotFoundException($"{source}: no such file or directory", source);

        GlobPattern? glob = options.Glob is null ? null : new GlobPattern(options.Glob);
        string root = Path.GetFullPath(source);
        var files = new List<SourceFile>();
        foreach (string path in EnumerateVisibleFiles(root))
        {
            string relative = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            if (glob is not null && !glob.Matches(relative)) continue;
            files.Add(new SourceFile(path, relative, ResolveFormat(path, options.Format), SplitHint(relative), new FileInfo(path).Length));
        }
        if (files.Count == 0)
            throw new InvalidDataException($"{source}: the folder has no files{(options.Glob is null ? "" : $" matching --glob '{options.Glob}'")}");
        files.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return files;
    }

    static IEnumerable<string> EnumerateVisibleFiles(string directory)
    {
        var entries = new DirectoryInfo(directory).EnumerateFileSystemInfos()
            .Where(e => !e.Name.StartsWith('.'))
            .OrderBy(e => e.Name, StringComparer.Ordinal);
        foreach (FileSystemInfo entry in entries)
        {
            if (entry is DirectoryInfo sub)
            {
                foreach (string path in EnumerateVisibleFiles(sub.FullName)) yield return path;
            }
            else if (entry is FileInfo)
            {
                yield return entry.FullName;
            }
        }
    }

    /// <summary>The split a relative path names by a folder (train/validation/test and common aliases) or a file-name prefix like <c>train-00000.parquet</c>.</summary>
    internal static string? SplitHint(string relativePath)
    {
        string[] parts = relativePath.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
            if (SplitFolderNames.TryGetValue(parts[i], out string? split)) return split;
        return FileNameSplit(parts[^1]);
    }

    static string? FileNameSplit(string fileName)
    {
        int cut = fileName.IndexOfAny(['-', '_']);
        return cut > 0 && SplitFolderNames.TryGetValue(fileName[..cut], out string? split) ? split : null;
    }

    public static SourceFormat ResolveFormat(string path, SourceFormat requested)
    {
        if (requested != SourceFormat.Auto) return requested;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".parquet" => SourceFormat.Parquet,
            ".csv" or ".tsv" => SourceFormat.Csv,
            ".jsonl" or ".ndjson" => SourceFormat.Jsonl,
            _ => SourceFormat.Text,
        };
    }

    /// <summary>The documents of one file, in file order; empty documents (and null values) are skipped by the caller.</summary>
    public static IEnumerable<CorpusDocument> ReadDocuments(SourceFile file, SourceOptions options, CancellationToken cancellationToken = default) =>
        file.Format switch
        {
            SourceFormat.Text => [CorpusDocument.FromFile(file)],
            SourceFormat.Parquet => ReadParquet(file, options, cancellationToken),
            SourceFormat.Csv => ReadCsv(file, options, cancellationToken),
            SourceFormat.Jsonl => ReadJsonl(file, options, cancellationToken),
            _ => throw new ArgumentException($"{file.FullPath}: format {file.Format} cannot be read directly"),
        };

    static IEnumerable<CorpusDocument> ReadParquet(SourceFile file, SourceOptions options, CancellationToken cancellationToken)
    {
        ParquetReader reader = ParquetGuard(file, () => ParquetReader.CreateAsync(file.FullPath, cancellationToken: cancellationToken).GetAwaiter().GetResult());
        try
        {
            DataField field = ParquetColumn(file, reader.Schema, options.Column ?? SourceOptions.DefaultColumn);
            for (int group = 0; group < reader.RowGroupCount; group++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                byte[]?[] rows = ParquetGuard(file, () => ReadRowGroup(reader, group, field, cancellationToken));
                for (int row = 0; row < rows.Length; row++)
                    if (rows[row] is { } bytes)
                        yield return CorpusDocument.FromBytes($"{file.FullPath} row group {group} row {row}", file.SplitHint, bytes);
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    static byte[]?[] ReadRowGroup(ParquetReader reader, int group, DataField field, CancellationToken cancellationToken)
    {
        using ParquetRowGroupReader rowGroup = reader.OpenRowGroupReader(group);
        int count = checked((int)rowGroup.RowCount);
        if (IsTextColumn(field))
        {
            var values = new string?[count];
            rowGroup.ReadAsync(field, values.AsMemory(), null, cancellationToken).GetAwaiter().GetResult();
            return values.Select(v => v is null ? null : Encoding.UTF8.GetBytes(v)).ToArray();
        }
        var binary = new byte[]?[count];
        rowGroup.ReadAsync(field, binary.AsMemory(), null, cancellationToken).GetAwaiter().GetResult();
        return binary;
    }

    static DataField ParquetColumn(SourceFile file, ParquetSchema schema, string column)
    {
        DataField[] fields = schema.DataFields;
        DataField? field = int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            ? index < fields.Length ? fields[index] : null
            : fields.FirstOrDefault(f => f.Name == column) ?? fields.FirstOrDefault(f => f.Path.ToString() == column);
        if (field is null)
            throw new InvalidDataException($"{file.FullPath}: no column '{column}' (columns: {string.Join(", ", fields.Select(f => f.Name))})");
        if (!IsTextColumn(field) && !IsBinaryColumn(field))
            throw new InvalidDataException($"{file.FullPath}: column '{field.Name}' holds {field.ClrType.Name}, not text or binary");
        if (field.IsArray)
            throw new InvalidDataException($"{file.FullPath}: column '{field.Name}' is a list; choose a column of one text value per row");
        return field;
    }

    // Parquet.Net 6 reports UTF-8 columns as string or ReadOnlyMemory<char>, and binary ones as byte[] or ReadOnlyMemory<byte>.
    static bool IsTextColumn(DataField field) => field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);

    static bool IsBinaryColumn(DataField field) => field.ClrType == typeof(byte[]) || field.ClrType == typeof(ReadOnlyMemory<byte>);

    static T ParquetGuard<T>(SourceFile file, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is not OperationCanceledException and not InvalidDataException)
        {
            throw new InvalidDataException($"{file.FullPath}: unreadable or truncated Parquet file ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    static IEnumerable<CorpusDocument> ReadCsv(SourceFile file, SourceOptions options, CancellationToken cancellationToken)
    {
        char? separator = options.Delimiter
            ?? (Path.GetExtension(file.FullPath).Equals(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : null);
        var csvOptions = new CsvReaderOptions { HasHeader = true, AllowLineBreaksInQuotes = true, TrackLineNumbers = true, Separator = separator };
        using CsvReader reader = CsvGuard(file, null, () => CsvReader.FromFile(file.FullPath, csvOptions));
        string column = options.Column ?? SourceOptions.DefaultColumn;
        int index = -1;
        while (CsvGuard(file, reader, () => reader.Read()))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (index < 0) index = CsvColumnIndex(file, reader, column);
            if (index >= reader.FieldCount)
                throw new InvalidDataException($"{file.FullPath}: line {reader.LineNumber}: the record has {reader.FieldCount} fields, so no column '{column}'");
            byte[] bytes = CsvGuard(file, reader, () => reader.GetSpan(index).ToArray());
            yield return CorpusDocument.FromBytes($"{file.FullPath} line {reader.LineNumber}", file.SplitHint, bytes);
        }
    }

    static int CsvColumnIndex(SourceFile file, CsvReader reader, string column)
    {
        if (int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out int index)) return index;
        if (reader.TryGetFieldIndex(column, out index)) return index;
        throw new InvalidDataException($"{file.FullPath}: the header has no column '{column}' (columns: {string.Join(", ", reader.Headers)})");
    }

    static T CsvGuard<T>(SourceFile file, CsvReader? reader, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is not OperationCanceledException and not InvalidDataException)
        {
            string where = reader is null ? "" : $" near line {reader.LineNumber}";
            throw new InvalidDataException($"{file.FullPath}{where}: unreadable CSV ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    static IEnumerable<CorpusDocument> ReadJsonl(SourceFile file, SourceOptions options, CancellationToken cancellationToken)
    {
        string field = options.Field ?? SourceOptions.DefaultColumn;
        using var reader = new StreamReader(file.FullPath, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (JsonlValue(file, line, lineNumber, field) is { } bytes)
                yield return CorpusDocument.FromBytes($"{file.FullPath} line {lineNumber}", file.SplitHint, bytes);
        }
    }

    static byte[]? JsonlValue(SourceFile file, string line, int lineNumber, string field)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file.FullPath}: line {lineNumber}: not valid JSON ({e.Message})", e);
        }
        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{file.FullPath}: line {lineNumber}: expected a JSON object, found {json.RootElement.ValueKind}");
            if (!json.RootElement.TryGetProperty(field, out JsonElement value))
                throw new InvalidDataException($"{file.FullPath}: line {lineNumber}: no field '{field}'");
            return value.ValueKind switch
            {
                JsonValueKind.String => Encoding.UTF8.GetBytes(value.GetString()!),
                JsonValueKind.Null => null,
                _ => throw new InvalidDataException($"{file.FullPath}: line {lineNumber}: field '{field}' is {value.ValueKind}, not a string"),
            };
        }
    }
}
