using System.Text;
using MambaByte.Data;
using MambaByte.Tests.Support;
using Parquet;
using Parquet.Schema;

namespace MambaByte.Tests.Data;

public sealed class BadInputTests
{
    static void PrepareInto(TempDir dir, string source, SourceOptions? options = null) =>
        StorePreparer.Prepare(new PrepareRequest([source], dir.File("store"), options));

    [Fact]
    public void Missing_source_is_reported_with_its_path()
    {
        using var dir = new TempDir();
        var error = Assert.Throws<FileNotFoundException>(() => PrepareInto(dir, dir.File("nowhere.txt")));
        Assert.Contains("nowhere.txt", error.Message);
        Assert.False(Directory.Exists(dir.File("store")));
    }

    [Fact]
    public async Task Truncated_parquet_is_reported_with_its_path()
    {
        using var dir = new TempDir();
        string path = dir.File("cut.parquet");
        var text = new DataField<string>("text");
        await using (FileStream stream = File.Create(path))
        await using (ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), stream))
        {
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync(text, Enumerable.Range(0, 200).Select(i => $"row {i} " + new string('r', 50)).ToArray());
        }
        byte[] whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);
        File.WriteAllText(dir.File("not.parquet"), "plain text, not parquet at all");

        foreach (string bad in new[] { path, dir.File("not.parquet") })
        {
            var error = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, bad));
            Assert.Contains(Path.GetFileName(bad), error.Message);
            Assert.Contains("Parquet", error.Message);
        }
        Assert.False(Directory.Exists(dir.File("store")));
    }

    [Fact]
    public async Task Parquet_without_the_named_column_lists_the_columns()
    {
        using var dir = new TempDir();
        string path = dir.File("other.parquet");
        var body = new DataField<string>("body");
        await using (FileStream stream = File.Create(path))
        await using (ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(body), stream))
        {
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync(body, new[] { "x" });
        }
        var error = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, path));
        Assert.Contains("other.parquet", error.Message);
        Assert.Contains("no column 'text'", error.Message);
        Assert.Contains("body", error.Message);
    }

    [Fact]
    public void Csv_without_the_named_column_or_with_a_short_record_names_the_file()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("header.csv"), "id,body\n1,hello\n");
        var missing = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, dir.File("header.csv")));
        Assert.Contains("header.csv", missing.Message);
        Assert.Contains("no column 'text'", missing.Message);

        File.WriteAllText(dir.File("short.csv"), "id,text\n1,hello\n2\n");
        var shortRecord = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, dir.File("short.csv")));
        Assert.Contains("short.csv", shortRecord.Message);
        Assert.Contains("line 3", shortRecord.Message);
    }

    [Fact]
    public void Jsonl_line_that_is_not_json_names_the_file_and_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("docs.jsonl"), "{\"text\": \"ok\"}\n{\"text\": broken\n");
        var error = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, dir.File("docs.jsonl")));
        Assert.Contains("docs.jsonl", error.Message);
        Assert.Contains("line 2", error.Message);
    }

    [Fact]
    public void Empty_corpus_is_rejected_and_leaves_no_store()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.txt"), []);
        var error = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, dir.File("empty.txt")));
        Assert.Contains("empty.txt", error.Message);
        Assert.Contains("empty", error.Message);
        Assert.False(Directory.Exists(dir.File("store")));

        Directory.CreateDirectory(dir.File("folder"));
        File.WriteAllText(Path.Combine(dir.File("folder"), "a.md"), "x");
        var noMatch = Assert.Throws<InvalidDataException>(() => PrepareInto(dir, dir.File("folder"), new SourceOptions(Glob: "*.txt")));
        Assert.Contains("folder", noMatch.Message);
    }

    [Fact]
    public void Invalid_split_fractions_and_separator_are_rejected()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "abc");
        Assert.Contains("sum to 1", Assert.Throws<ArgumentException>(() =>
            StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), SplitFractions: [0.5, 0.2, 0.2]))).Message);
        Assert.Contains("--separator", Assert.Throws<ArgumentException>(() =>
            StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), Separator: 256))).Message);
    }

    [Fact]
    public void Existing_store_is_not_overwritten_without_force()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "first version");
        StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), SplitFractions: [1, 0, 0]));
        File.WriteAllText(dir.File("a.txt"), "second version!");

        Assert.Contains("already exists", Assert.Throws<IOException>(() =>
            StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), SplitFractions: [1, 0, 0]))).Message);
        StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), SplitFractions: [1, 0, 0], Overwrite: true));

        using ByteStore store = ByteStore.Open(dir.File("s"));
        Assert.Equal(Encoding.UTF8.GetBytes("second version!"), StoreAssert.Documents(store, "train").Single());
        Assert.Single(Directory.GetDirectories(dir.Path)); // the replaced store was removed
    }

    [Fact]
    public void Damaged_store_and_unknown_split_are_reported_with_paths()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "some bytes for the store");
        StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("s"), SplitFractions: [1, 0, 0]));
        using (ByteStore store = ByteStore.Open(dir.File("s")))
        {
            var unknown = Assert.Throws<ArgumentException>(() => store.Split("dev"));
            Assert.Contains("'dev'", unknown.Message);
            Assert.Contains("train, validation, test", unknown.Message);
        }
        using (FileStream bin = File.OpenWrite(dir.File("s/train.bin"))) bin.SetLength(5);
        var damaged = Assert.Throws<InvalidDataException>(() => ByteStore.Open(dir.File("s")));
        Assert.Contains("train.bin", damaged.Message);

        var notStore = Assert.Throws<FileNotFoundException>(() => ByteStore.Open(dir.Path));
        Assert.Contains("not a prepared store", notStore.Message);
    }

    [Fact]
    public void Raw_file_split_keeps_any_bytes_and_rejects_an_empty_file()
    {
        using var dir = new TempDir();
        byte[] bytes = [0xC0, 0x80, 0xFF, (byte)'a', 0xED, 0xA0, 0x80];
        File.WriteAllBytes(dir.File("raw.bin"), bytes);
        using (ByteSplit split = ByteSplit.FromFile(dir.File("raw.bin")))
        {
            Assert.Equal(bytes.Length, split.Length);
            Assert.Equal(1, split.DocumentCount);
            Assert.Equal((0L, (long)bytes.Length), split.Document(0));
            var copy = new byte[bytes.Length];
            split.CopyTo(0, copy);
            Assert.Equal(bytes, copy);
            Assert.Throws<ArgumentOutOfRangeException>(() => split.CopyTo(3, new byte[5]));
        }
        File.WriteAllBytes(dir.File("none.txt"), []);
        Assert.Contains("none.txt", Assert.Throws<InvalidDataException>(() => ByteSplit.FromFile(dir.File("none.txt"))).Message);
        Assert.Contains("gone.txt", Assert.Throws<FileNotFoundException>(() => ByteSplit.FromFile(dir.File("gone.txt"))).Message);
    }
}
