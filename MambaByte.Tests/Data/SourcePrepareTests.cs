using System.Text;
using MambaByte.Data;
using MambaByte.Tests.Support;
using Parquet;
using Parquet.Schema;

namespace MambaByte.Tests.Data;

public sealed class SourcePrepareTests
{
    static readonly double[] Default = [0.98, 0.01, 0.01];
    static readonly double[] Even = [0.34, 0.33, 0.33];

    static ByteStore Prepare(TempDir dir, IReadOnlyList<string> sources, SourceOptions? options = null, double[]? fractions = null, int? separator = null, ulong seed = 0)
    {
        string output = dir.File("store-" + Guid.NewGuid().ToString("N")[..6]);
        StorePreparer.Prepare(new PrepareRequest(sources, output, options, fractions, separator, seed));
        return ByteStore.Open(output);
    }

    [Fact]
    public void Text_folder_with_glob_stores_each_matching_file_as_one_byte_exact_document()
    {
        using var dir = new TempDir();
        string corpus = Directory.CreateDirectory(dir.File("corpus")).FullName;
        Directory.CreateDirectory(Path.Combine(corpus, "sub", "deeper"));
        var files = new Dictionary<string, byte[]>
        {
            ["a.txt"] = Encoding.UTF8.GetBytes("alpha\nbeta, with ü and 字\n"),
            ["sub/b.txt"] = [0xFF, 0xFE, 0xC3, 0x28, 0x00, (byte)'x', 0x80], // invalid UTF-8 and a NUL: kept as bytes
            ["sub/deeper/c.txt"] = Encoding.UTF8.GetBytes(new string('c', 5000)),
            ["z.txt"] = Encoding.UTF8.GetBytes("last"),
        };
        foreach ((string name, byte[] bytes) in files) File.WriteAllBytes(Path.Combine(corpus, name), bytes);
        File.WriteAllText(Path.Combine(corpus, "notes.md"), "not matched by the glob");
        File.WriteAllText(Path.Combine(corpus, ".hidden.txt"), "hidden files are skipped");
        File.WriteAllBytes(Path.Combine(corpus, "empty.txt"), []);

        using ByteStore store = Prepare(dir, [corpus], new SourceOptions(Glob: "*.txt"), Even, seed: 7);

        string[] order = ["a.txt", "sub/b.txt", "sub/deeper/c.txt", "z.txt"]; // ordinal path order
        StoreAssert.HoldsExactly(store, order.Select(n => (StoreAssert.ExpectedHashSplit(files[n], 7, Even), files[n])).ToList());
        Assert.Equal(4, store.Manifest.TotalDocuments);
        Assert.Equal(1, store.Manifest.SkippedEmptyDocuments);
        Assert.Equal(files.Values.Sum(f => (long)f.Length), store.Manifest.TotalBytes);
    }

    [Fact]
    public void Train_validation_test_folders_of_the_source_decide_the_split()
    {
        using var dir = new TempDir();
        string corpus = dir.File("corpus");
        var expected = new List<(string, byte[])>();
        foreach ((string folder, string split) in new[] { ("test", "test"), ("train", "train"), ("valid", "validation") })
        {
            Directory.CreateDirectory(Path.Combine(corpus, folder));
            for (int i = 0; i < 3; i++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes($"{folder} document {i}\n");
                File.WriteAllBytes(Path.Combine(corpus, folder, $"{i}.txt"), bytes);
                expected.Add((split, bytes));
            }
        }

        using ByteStore store = Prepare(dir, [corpus], fractions: [1, 0, 0]);

        StoreAssert.HoldsExactly(store, expected);
        Assert.Equal(9, store.Manifest.SplitRule.FolderDocuments);
        Assert.Equal(0, store.Manifest.SplitRule.HashedDocuments);
    }

    [Fact]
    public async Task Parquet_with_several_row_groups_stores_each_row_of_the_column_as_a_document()
    {
        using var dir = new TempDir();
        string path = dir.File("shard.parquet");
        var id = new DataField<int>("id");
        var text = new DataField<string>("text");
        string[][] groups = [["first book\nline two", "second ü", ""], ["third", new string('x', 3000)]];
        await using (FileStream stream = File.Create(path))
        await using (ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(id, text), stream))
        {
            int next = 0;
            foreach (string[] rows in groups)
            {
                using ParquetRowGroupWriter group = writer.CreateRowGroup();
                await group.WriteAsync<int>(id, Enumerable.Range(next, rows.Length).ToArray().AsMemory());
                await group.WriteAsync(text, rows);
                next += rows.Length;
            }
        }
        await using (ParquetReader check = await ParquetReader.CreateAsync(path)) Assert.Equal(2, check.RowGroupCount);

        string[] nonEmpty = groups.SelectMany(g => g).Where(s => s.Length > 0).ToArray();
        foreach (string column in new[] { "text", "1" }) // by name and by zero-based index
        {
            using ByteStore store = Prepare(dir, [path], new SourceOptions(Column: column), Even);
            StoreAssert.HoldsExactly(store, nonEmpty.Select(s => Encoding.UTF8.GetBytes(s)).Select(b => (StoreAssert.ExpectedHashSplit(b, 0, Even), b)).ToList());
            Assert.Equal(1, store.Manifest.SkippedEmptyDocuments);
        }
    }

    [Fact]
    public async Task Parquet_binary_column_keeps_invalid_utf8_bytes_exactly()
    {
        using var dir = new TempDir();
        string path = dir.File("raw.parquet");
        var raw = new DataField<byte[]>("raw");
        byte[][] rows = [[0xFF, 0x00, 0xC3, 0x28], [(byte)'o', (byte)'k'], [0x80]];
        await using (FileStream stream = File.Create(path))
        await using (ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(raw), stream))
        {
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync(raw, rows);
        }

        using ByteStore store = Prepare(dir, [path], new SourceOptions(Format: SourceFormat.Parquet, Column: "raw"), [1, 0, 0]);

        StoreAssert.HoldsExactly(store, rows.Select(r => ("train", r)).ToList());
    }

    [Fact]
    public void Csv_with_quoted_newlines_and_a_custom_delimiter_keeps_each_field_exactly()
    {
        using var dir = new TempDir();
        string path = dir.File("rows.csv");
        File.WriteAllText(path,
            "id;body;extra\n" +
            "1;\"a field\nthat spans \"\"three\"\"\nlines; with a semicolon\";x\n" +
            "2;plain ü text;y\n" +
            "3;\"  kept spaces  \";z\n");
        string[] expected = ["a field\nthat spans \"three\"\nlines; with a semicolon", "plain ü text", "  kept spaces  "];

        foreach (string column in new[] { "body", "1" })
        {
            using ByteStore store = Prepare(dir, [path], new SourceOptions(Column: column, Delimiter: ';'), [1, 0, 0]);
            StoreAssert.HoldsExactly(store, expected.Select(s => ("train", Encoding.UTF8.GetBytes(s))).ToList());
        }
    }

    [Fact]
    public void Jsonl_field_by_name_stores_each_line_as_a_document()
    {
        using var dir = new TempDir();
        string path = dir.File("docs.jsonl");
        File.WriteAllText(path, "{\"text\": \"one\\nline\", \"n\": 1}\n\n{\"n\": 2, \"text\": \"two \\u00fc \\\"q\\\"\"}\n{\"text\": null}\n");

        using ByteStore store = Prepare(dir, [path], fractions: [0, 1, 0]);

        StoreAssert.HoldsExactly(store, [("validation", Encoding.UTF8.GetBytes("one\nline")), ("validation", Encoding.UTF8.GetBytes("two ü \"q\""))]);
    }

    [Fact]
    public void Separator_byte_follows_every_document_and_is_not_part_of_its_span()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "first");
        File.WriteAllText(dir.File("b.txt"), "second!");

        using ByteStore store = Prepare(dir, [dir.File("a.txt"), dir.File("b.txt")], fractions: [1, 0, 0], separator: 0x1E);

        ByteSplit train = store.Split("train");
        var all = new byte[train.Length];
        train.CopyTo(0, all);
        Assert.Equal(Encoding.ASCII.GetBytes("first\u001Esecond!\u001E"), all);
        Assert.Equal((0L, 5L), train.Document(0));
        Assert.Equal((6L, 7L), train.Document(1));
        Assert.Equal(30, store.Manifest.Separator);
    }

    [Fact]
    public void Preparing_the_same_inputs_twice_gives_byte_identical_files()
    {
        using var dir = new TempDir();
        string corpus = Directory.CreateDirectory(dir.File("corpus")).FullName;
        var random = new Random(3);
        for (int i = 0; i < 40; i++)
        {
            var bytes = new byte[random.Next(1, 400)];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(corpus, $"{i:D2}.bin"), bytes);
        }
        string first = dir.File("one"), second = dir.File("two");
        StorePreparer.Prepare(new PrepareRequest([corpus], first, SplitFractions: Even, Separator: 0));
        StorePreparer.Prepare(new PrepareRequest([corpus], second, SplitFractions: Even, Separator: 0));

        string[] names = Directory.GetFiles(first).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(["manifest.json", "test.bin", "test.idx", "train.bin", "train.idx", "validation.bin", "validation.idx"], names);
        foreach (string name in names)
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, name)), File.ReadAllBytes(Path.Combine(second, name)));
        using ByteStore store = ByteStore.Open(first);
        Assert.All(store.Manifest.Splits, s => Assert.True(s.Documents > 0)); // 40 documents over 34/33/33 fill every split
        Assert.Equal(40, store.Manifest.Splits.Sum(s => s.Documents));
    }

    [Fact]
    public void Cancelled_prepare_leaves_no_store_and_no_temporary_directory()
    {
        using var dir = new TempDir();
        string corpus = Directory.CreateDirectory(dir.File("corpus")).FullName;
        for (int i = 0; i < 20; i++) File.WriteAllText(Path.Combine(corpus, $"{i:D2}.txt"), new string((char)('a' + i), 1000));
        string workspace = Directory.CreateDirectory(dir.File("work")).FullName;
        using var cancellation = new CancellationTokenSource();
        int reports = 0;
        var progress = new InlineProgress(p => { if (++reports == 3) cancellation.Cancel(); });

        Assert.ThrowsAny<OperationCanceledException>(() =>
            StorePreparer.Prepare(new PrepareRequest([corpus], Path.Combine(workspace, "store")), progress, cancellation.Token));

        Assert.True(reports >= 3);
        Assert.Empty(Directory.EnumerateFileSystemEntries(workspace));
    }

    [Fact]
    public void Failed_prepare_on_a_bad_file_leaves_nothing_behind_and_names_the_file()
    {
        using var dir = new TempDir();
        string corpus = Directory.CreateDirectory(dir.File("corpus")).FullName;
        File.WriteAllText(Path.Combine(corpus, "a.jsonl"), "{\"text\": \"fine\"}\n");
        File.WriteAllText(Path.Combine(corpus, "b.jsonl"), "{\"text\": \"fine\"}\n{\"body\": \"no text field\"}\n");
        string workspace = Directory.CreateDirectory(dir.File("work")).FullName;

        var error = Assert.Throws<InvalidDataException>(() => StorePreparer.Prepare(new PrepareRequest([corpus], Path.Combine(workspace, "store"))));

        Assert.Contains("b.jsonl", error.Message);
        Assert.Contains("line 2", error.Message);
        Assert.Contains("no field 'text'", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(workspace));
    }

    sealed class InlineProgress(Action<PrepareProgress> report) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value) => report(value);
    }
}
