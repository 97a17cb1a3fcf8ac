using System.Diagnostics;
using System.Text;
using MambaByte.Data;
using MambaByte.Tests.Support;
using MambaByte.Train;

namespace MambaByte.Tests.Data;

public sealed class PrepareCommandTests
{
    [Fact]
    public void Prepare_command_writes_the_store_and_prints_split_sizes_and_progress()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("rows.tsv"), "title\tbody\nA\t\"quoted\ttab\"\nB\tsecond\n");
        var output = new StringWriter();
        var error = new StringWriter();

        int code = Cli.Run(["prepare", dir.File("rows.tsv"), "--out", dir.File("store"), "--column", "body", "--delimiter", "tab",
            "--split-fractions", "1,0,0", "--separator", "0x0a"], output, error);

        Assert.Equal("", error.ToString());
        Assert.Equal(0, code);
        using ByteStore store = ByteStore.Open(dir.File("store"));
        ByteSplit train = store.Split("train");
        var all = new byte[train.Length];
        train.CopyTo(0, all);
        Assert.Equal("quoted\ttab\nsecond\n", Encoding.UTF8.GetString(all));
        string text = output.ToString();
        Assert.Contains("prepare 100.0%", text);
        Assert.Contains("MB/s", text);
        Assert.Contains("ETA", text);
        Assert.Matches(@"train\s+18 bytes\s+2 documents", text);
        Assert.Contains(store.Manifest.ContentHash, text);
    }

    [Fact]
    public void Prepare_command_reports_bad_input_on_one_line_with_exit_code_1()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("docs.jsonl"), "{\"body\": \"x\"}\n");
        var error = new StringWriter();

        int code = Cli.Run(["prepare", dir.File("docs.jsonl"), "--out", dir.File("store")], new StringWriter(), error);

        Assert.Equal(1, code);
        string message = error.ToString().TrimEnd();
        Assert.DoesNotContain('\n', message);
        Assert.Contains("docs.jsonl", message);
        Assert.Contains("line 1", message);
        Assert.False(Directory.Exists(dir.File("store")));
        Assert.Equal(1, Cli.Run(["prepare", dir.File("docs.jsonl"), "--out", dir.File("s2"), "--separator", "300"], new StringWriter(), new StringWriter()));
    }

    [Fact]
    public async Task Prepare_of_50_MB_of_text_stays_under_200_MB_of_memory()
    {
        using var dir = new TempDir();
        const long target = 50L * 1024 * 1024;
        string corpus = Directory.CreateDirectory(dir.File("corpus")).FullName;
        // One 40 MB document (streamed, never held whole) and 10 MB in 1000 small files.
        WriteText(Path.Combine(corpus, "big.txt"), 40L * 1024 * 1024, seed: 1);
        for (int i = 0; i < 1000; i++) WriteText(Path.Combine(corpus, $"small-{i:D4}.txt"), (target - 40L * 1024 * 1024) / 1000, seed: 2 + i);
        long inputBytes = Directory.GetFiles(corpus).Sum(f => new FileInfo(f).Length);
        Assert.InRange(inputBytes, target - 1000, target);

        string dll = Path.Combine(AppContext.BaseDirectory, "mambabyte.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { dll, "prepare", corpus, "--out", dir.File("store") }) start.ArgumentList.Add(arg);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        long peakKb = 0;
        while (!process.HasExited)
        {
            peakKb = Math.Max(peakKb, ReadHighWaterMarkKb(process.Id));
            await Task.Delay(10);
        }
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"prepare failed: {await stderr}{await stdout}");
        Assert.True(peakKb > 0, "never read VmHWM from /proc");
        Assert.True(peakKb < 200 * 1024, $"peak resident memory {peakKb / 1024} MB is not under 200 MB");

        using ByteStore store = ByteStore.Open(dir.File("store"));
        Assert.Equal(inputBytes, store.Manifest.TotalBytes);
        Assert.Equal(1001, store.Manifest.TotalDocuments);
    }

    static long ReadHighWaterMarkKb(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        catch (IOException) { } // the process ended between the check and the read
        return 0;
    }

    /// <summary>Writes pseudo-random words in 64 KB chunks, so the test itself never holds the corpus.</summary>
    static void WriteText(string path, long bytes, int seed)
    {
        string[] words = ["the", "byte", "model", "reads", "every", "book", "and", "line", "of", "Mamba", "state", "space", "über", "naïve"];
        var random = new Random(seed);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        var chunk = new StringBuilder();
        long written = 0;
        while (written < bytes)
        {
            chunk.Clear();
            while (chunk.Length < 60_000) chunk.Append(words[random.Next(words.Length)]).Append(random.Next(12) == 0 ? '\n' : ' ');
            byte[] encoded = Encoding.UTF8.GetBytes(chunk.ToString());
            int take = (int)Math.Min(encoded.Length, bytes - written);
            stream.Write(encoded, 0, take);
            written += take;
        }
    }
}
