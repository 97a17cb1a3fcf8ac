using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Data;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Training;
using static TorchSharp.torch;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>
/// Runs the README's main command (the line after <c>&lt;!-- main-command --&gt;</c>, read the way .ci/run reads the
/// test command) in-process, each <c>dotnet run … --</c> part through <see cref="Cli.Run"/>, with only the limits
/// and sizes shortened.
/// </summary>
public sealed class ReadmeMainCommandTests
{
    const string DotnetRunPrefix = "dotnet run -c Release --project MambaByte.Train --";

    static readonly Dictionary<string, Dictionary<string, string>> Shorter = new()
    {
        ["train"] = new() { ["--max-minutes"] = "0", ["--max-steps"] = "3", ["--context"] = "32", ["--batch-size"] = "2", ["--eval-bytes"] = "2000", ["--log-every"] = "1", ["--device"] = "cpu" },
        ["eval"] = new() { ["--max-bytes"] = "1500", ["--device"] = "cpu" },
        ["generate"] = new() { ["--max-bytes"] = "16", ["--device"] = "cpu" },
    };

    static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "README.md"))) directory = Path.GetDirectoryName(directory);
        Assert.NotNull(directory);
        return directory;
    }

    internal static string MainCommandLine()
    {
        string[] lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "README.md"));
        int marker = Array.IndexOf(lines, "<!-- main-command -->");
        Assert.True(marker >= 0, "README.md has no <!-- main-command --> block");
        return lines.Skip(marker + 1).First(l => !l.StartsWith("```", StringComparison.Ordinal));
    }

    /// <summary>Splits a POSIX shell word list with double and single quotes (enough for the README line).</summary>
    internal static List<string> ShellWords(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        foreach (char c in text)
        {
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else current.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
            else { current.Append(c); inWord = true; }
        }
        if (inWord) words.Add(current.ToString());
        return words;
    }

    static void Override(List<string> args, string option, string value)
    {
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange([option, value]);
    }

    [Fact]
    public void The_readme_main_command_trains_evaluates_and_generates_end_to_end()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string line = MainCommandLine();
        string[] parts = line.Split("&&", StringSplitOptions.TrimEntries);
        Assert.Equal(["train", "eval", "generate"], parts.Select(p => ShellWords(p[DotnetRunPrefix.Length..])[0]));

        string? runDirectory = null;
        var outputs = new Dictionary<string, string>();
        foreach (string part in parts)
        {
            Assert.StartsWith(DotnetRunPrefix, part);
            List<string> args = ShellWords(part[DotnetRunPrefix.Length..]);
            // The README's run directory becomes a temporary one, wherever it appears.
            runDirectory ??= args[args.IndexOf("--out") + 1];
            for (int i = 0; i < args.Count; i++)
                if (args[i] == runDirectory) args[i] = temp.File("run");
            foreach ((string option, string value) in Shorter[args[0]]) Override(args, option, value);

            var output = new StringWriter();
            var error = new StringWriter();
            int exit = Cli.Run(args.ToArray(), output, error);
            Assert.True(exit == 0, $"{string.Join(' ', args)} failed: {error}");
            outputs[args[0]] = output.ToString();
        }

        // train: 3 logged steps, a checkpoint and best/.
        List<MetricsRow> rows = MetricsLog.Read(temp.File("run/metrics.csv"));
        Assert.Equal([1L, 2L, 3L], rows.Where(r => r.Kind == "train").Select(r => r.Step));
        Assert.Equal(Path.Combine(temp.File("run"), "checkpoints", "step-3"), RunDirectory.Resolve(temp.File("run")));

        // eval: the printed windowed bits/byte equals a hand-written scoring of best/ on the same bytes: back-to-back
        // windows of 32 through the plain forward, −log2 softmax of each next byte summed in C#.
        Match printed = Regex.Match(outputs["eval"], @"kjv:test\s+windowed\s+context\s+32 stride\s+32\s+([0-9.]+) bits/byte over ([0-9,]+) bytes");
        Assert.True(printed.Success, outputs["eval"]);
        using ByteLanguageModel model = ModelCheckpoint.Load(temp.File("run/best"), CPU);
        model.eval();
        using ByteStore store = DatasetResolver.Resolve("kjv");
        byte[] bytes = EvalBytes.Read(store.Split("test"), 1500);
        (double bits, long scored) = ScoreByHand(model, bytes, 32);
        Assert.Equal(1499, scored);
        Assert.Equal("1,499", printed.Groups[2].Value);
        double reported = double.Parse(printed.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(bits / scored - reported) <= 6e-5, $"eval printed {reported}, scored by hand {bits / scored}");

        // generate: the README's sampled line printed the prompt first; greedy decoding (temperature 0) through the
        // command must equal argmax decoding by hand with a full forward over the whole text at every byte.
        Assert.StartsWith("And God said", outputs["generate"]);
        var greedyOutput = new StringWriter();
        Assert.Equal(0, Cli.Run(["generate", "--checkpoint", temp.File("run"), "--prompt", "And God said", "--max-bytes", "16", "--temperature", "0", "--device", "cpu"], greedyOutput, new StringWriter()));
        var text = new List<byte>(Encoding.UTF8.GetBytes("And God said"));
        for (int i = 0; i < 16; i++) text.Add(ArgmaxNextByte(model, text));
        Assert.Equal(Encoding.UTF8.GetString(text.ToArray()) + Environment.NewLine, greedyOutput.ToString());
    }

    [Fact]
    public void The_readme_main_command_trains_for_the_minutes_its_text_states_with_no_step_limit()
    {
        // The train part as written (nothing shortened), parsed as `mambabyte train` parses it.
        string train = MainCommandLine().Split("&&", StringSplitOptions.TrimEntries)[0];
        List<string> args = ShellWords(train[DotnetRunPrefix.Length..]);
        Assert.Equal("train", args[0]);
        var given = new Dictionary<string, string>();
        for (int i = 1; i < args.Count; i += 2) given[args[i].TrimStart('-')] = args[i + 1];
        TrainOptions options = TrainOptionsLoader.Merge(null, null, given);
        Assert.Equal(0, options.MaxSteps);      // the time is the limit: no default step count cuts it short
        Assert.Equal(0, options.MaxBytes);
        Assert.Equal(3, options.MaxMinutes);

        // The paragraph above the command says so.
        string[] lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "README.md"));
        int marker = Array.IndexOf(lines, "<!-- main-command -->");
        string paragraph = string.Join(' ', lines[..marker].Reverse().Skip(1).TakeWhile(l => l.Length > 0).Reverse());
        Assert.Contains("for three minutes", paragraph);
    }

    /// <summary>Bits summed over every byte after the first, predicted from back-to-back windows of <paramref name="context"/>.</summary>
    static (double Bits, long Scored) ScoreByHand(ByteLanguageModel model, byte[] bytes, int context)
    {
        double nats = 0;
        long scored = 0;
        using var noGrad = no_grad();
        for (int begin = 0; begin < bytes.Length - 1; begin += context)
        {
            int length = Math.Min(context, bytes.Length - 1 - begin);
            float[] logits = Logits(model, bytes.AsSpan(begin, length));
            for (int t = 0; t < length; t++)
            {
                nats -= LogSoftmax(logits.AsSpan(t * 256, 256), bytes[begin + t + 1]);
                scored++;
            }
        }
        return (nats / Math.Log(2), scored);
    }

    static byte ArgmaxNextByte(ByteLanguageModel model, List<byte> text)
    {
        using var noGrad = no_grad();
        float[] logits = Logits(model, text.ToArray());
        ReadOnlySpan<float> last = logits.AsSpan((text.Count - 1) * 256, 256);
        int best = 0;
        for (int b = 1; b < 256; b++) if (last[b] > last[best]) best = b;
        return (byte)best;
    }

    /// <summary>The model's (l, 256) logits for one sequence, flattened.</summary>
    static float[] Logits(ByteLanguageModel model, ReadOnlySpan<byte> input)
    {
        using var scope = NewDisposeScope();
        long[] ids = new long[input.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = input[i];
        return model.forward(tensor(ids, [1, ids.Length])).to(float32).data<float>().ToArray();   // (1, l, 256)
    }

    static double LogSoftmax(ReadOnlySpan<float> row, int index)
    {
        double max = double.NegativeInfinity;
        foreach (float x in row) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in row) sum += Math.Exp(x - max);
        return row[index] - max - Math.Log(sum);
    }
}
