using System.Text;
using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Models;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using MambaByte.Train;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Jobs;

/// <summary>eval and generate through the command line, on a real (tiny, untrained) Mamba checkpoint.</summary>
public sealed class CliJobTests
{
    static string SaveTinyMamba(TempDir temp, long seed = 5)
    {
        string dir = temp.File("mamba");
        using ByteLanguageModel model = new MambaLMHeadModel(MambaConfig.Tiny, seed);
        ModelCheckpoint.Save(model, dir);
        return dir;
    }

    static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Cli.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Eval_on_a_raw_file_matches_an_independent_sum_of_log_probabilities()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string checkpoint = SaveTinyMamba(temp);
        byte[] text = Encoding.UTF8.GetBytes("And God said, Let there be light: and there was light. Ünïcödé — 😀 bytes too.\n");
        string file = temp.File("sample.txt");
        File.WriteAllBytes(file, text);

        using ByteLanguageModel model = ModelCheckpoint.Load(checkpoint, CPU);
        double expected = EvaluationTests.FullForwardBits(model, text) / (text.Length - 1);

        // One window covers the file: the windowed score must be the plain forward's.
        var (exit, output, error) = Run("eval", "--checkpoint", checkpoint, "--data", file, "--context", "512", "--json", "--device", "cpu");
        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(text.Length - 1, json.RootElement.GetProperty("bytes_scored").GetInt64());
        Assert.Equal(expected, json.RootElement.GetProperty("bits_per_byte").GetDouble(), 1e-6);

        // Windows of 16 with the state carried across them see the whole history: the same number again.
        (exit, output, error) = Run("eval", "--checkpoint", checkpoint, "--data", file, "--context", "16", "--stride", "8", "--json", "--device", "cpu");
        Assert.True(exit == 0, error);
        using var windowed = JsonDocument.Parse(output);
        JsonElement[] rows = windowed.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["windowed", "carried-state"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.All(rows, r => Assert.Equal(text.Length - 1, r.GetProperty("bytes_scored").GetInt64()));
        Assert.Equal(expected, rows[1].GetProperty("bits_per_byte").GetDouble(), 1e-5);
        Assert.NotEqual(expected, rows[0].GetProperty("bits_per_byte").GetDouble(), 6);   // short windows lose history
    }

    [Fact]
    public void Eval_writes_a_report_for_several_datasets_with_a_context_sweep()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string checkpoint = SaveTinyMamba(temp);
        File.WriteAllText(temp.File("a.txt"), "The quick brown fox jumps over the lazy dog. " + new string('a', 60));
        File.WriteAllText(temp.File("b.txt"), "Lorem ipsum dolor sit amet, consectetur adipiscing elit.");
        string report = temp.File("report");
        var (exit, _, error) = Run("eval", "--checkpoint", checkpoint, "--data", temp.File("a.txt"), temp.File("b.txt"),
            "--context", "32", "--contexts", "8,32", "--report", report, "--device", "cpu");
        Assert.True(exit == 0, error);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        JsonElement root = json.RootElement;
        Assert.Equal(MambaConfig.Tiny.ParameterCount, root.GetProperty("model").GetProperty("parameters").GetInt64());
        Assert.Equal(4, root.GetProperty("results").GetArrayLength());          // 2 datasets × (windowed, carried-state)
        JsonElement[] sweep = root.GetProperty("context_sweep").EnumerateArray().ToArray();
        Assert.Equal([("a.txt", 8), ("a.txt", 32), ("b.txt", 8), ("b.txt", 32)],
            sweep.Select(r => (r.GetProperty("data").GetString()!, r.GetProperty("context").GetInt32())));
        // The sweep's context-32 row is the main windowed row (same windows, same model).
        Assert.Equal(root.GetProperty("results")[0].GetProperty("bits_per_byte").GetDouble(), sweep[1].GetProperty("bits_per_byte").GetDouble());

        string markdown = File.ReadAllText(Path.Combine(report, "report.md"));
        Assert.Contains("| a.txt | file | carried-state | 32 | 32 |", markdown);
        Assert.Contains("| data | split | ctx 8 | ctx 32 |", markdown);
        string[] csv = File.ReadAllLines(Path.Combine(report, "report.csv"));
        Assert.Equal("table,data,split,method,context,stride,bits_per_byte,bytes_scored,architecture,parameters", csv[0]);
        Assert.Equal(1 + 4 + 4, csv.Length);
    }

    [Fact]
    public void Generate_at_temperature_zero_streams_the_argmax_continuation()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string checkpoint = SaveTinyMamba(temp, seed: 9);
        using ByteLanguageModel model = ModelCheckpoint.Load(checkpoint, CPU);
        byte[] prompt = Encoding.UTF8.GetBytes("In the beginning");
        GenerationTests.AssertGreedyMatchesFullForward(model, prompt, 12);

        byte[] greedy = ByteGenerator.Generate(model, prompt, 12, new SamplingOptions(Temperature: 0)).Bytes;
        var (exit, output, error) = Run("generate", "--checkpoint", checkpoint, "--prompt", "In the beginning", "--max-bytes", "12", "--temperature", "0", "--device", "cpu");
        Assert.True(exit == 0, error);
        Assert.Equal(Encoding.UTF8.GetString([.. prompt, .. greedy]) + Environment.NewLine, output);
        Assert.Matches(@"^generated 12 bytes in [0-9.]+ s \([0-9.]+ bytes/s, mamba, fused step, fp32 weights\)", error);

        // Sampling: same seed, same text.
        string Sample(string seed) => Run("generate", "--checkpoint", checkpoint, "--prompt", "x", "--max-bytes", "20", "--top-k", "40", "--seed", seed, "--device", "cpu").Output;
        Assert.Equal(Sample("4"), Sample("4"));
        Assert.NotEqual(Sample("4"), Sample("5"));
    }

    [Fact]
    public void Bad_input_fails_with_one_line_naming_the_path_and_the_problem()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string checkpoint = SaveTinyMamba(temp);
        File.WriteAllText(temp.File("t.txt"), "some text");

        var missing = Run("eval", "--checkpoint", temp.File("nope"), "--data", temp.File("t.txt"));
        Assert.Equal(1, missing.Exit);
        Assert.Equal($"mambabyte: error: --checkpoint {temp.File("nope")}: no such directory", missing.Error.Trim());

        string broken = temp.File("broken");
        Directory.CreateDirectory(broken);
        File.Copy(Path.Combine(checkpoint, ModelCheckpoint.WeightsFileName), Path.Combine(broken, ModelCheckpoint.WeightsFileName));
        File.WriteAllText(Path.Combine(broken, ModelCheckpoint.ConfigFileName), "{ \"d_model\": 16, ");
        var corrupted = Run("generate", "--checkpoint", broken, "--prompt", "x");
        Assert.Equal(1, corrupted.Exit);
        Assert.Single(corrupted.Error.Trim().Split('\n'));
        Assert.StartsWith($"mambabyte: error: {Path.Combine(broken, ModelCheckpoint.ConfigFileName)}: not valid JSON", corrupted.Error);

        var noData = Run("eval", "--checkpoint", checkpoint, "--data", temp.File("absent.txt"));
        Assert.Equal(1, noData.Exit);
        Assert.Contains($"{temp.File("absent.txt")}: no such store or dataset directory", noData.Error);

        var noTrainData = Run("train", "--data", temp.File("absent-store"), "--out", temp.File("run"), "--device", "cpu");
        Assert.Equal(1, noTrainData.Exit);
        Assert.EndsWith($"{temp.File("absent-store")}: no such store or dataset directory", noTrainData.Error.Trim());

        var badOption = Run("train", "--lr", "fast", "--out", temp.File("run"));
        Assert.Equal("mambabyte: error: --lr fast: expected a number", badOption.Error.Trim());
    }

    [Fact]
    public void An_official_mamba_ssm_directory_evaluates_without_conversion()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string official = temp.File("official");
        Directory.CreateDirectory(official);
        new ReferenceCheckpointFiles(seed: 4, tied: true).WriteDirectory(official, "BF16");
        byte[] text = Encoding.UTF8.GetBytes("Blessed are the meek: for they shall inherit the earth.");
        File.WriteAllBytes(temp.File("verse.txt"), text);

        var (exit, output, error) = Run("eval", "--checkpoint", official, "--data", temp.File("verse.txt"), "--json", "--device", "cpu");
        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(1024, json.RootElement.GetProperty("context").GetInt32());     // no trainer state: the default context
        using ByteLanguageModel model = ModelCheckpoint.Load(official, CPU);
        Assert.Equal(EvaluationTests.FullForwardBits(model, text) / (text.Length - 1), json.RootElement.GetProperty("bits_per_byte").GetDouble(), 1e-6);
    }

    [Fact]
    public void Train_resume_through_the_command_line_takes_options_and_run_directory_from_the_checkpoint()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        string[] common = ["--data", "kjv", "--context", "16", "--batch-size", "2", "--log-every", "1", "--eval-every", "0",
            "--eval-bytes", "200", "--tensorboard", "false", "--device", "cpu", "--decay-steps", "4"];
        var first = Run(["train", .. common, "--max-steps", "2", "--out", run]);
        Assert.True(first.Exit == 0, first.Error);
        Assert.Contains("  max-steps        = 2", first.Output);

        // Only the new limit is given: context, batch size, data and --out come from the checkpoint.
        var resumed = Run("train", "--resume", Path.Combine(run, "checkpoints", "step-2"), "--max-steps", "4");
        Assert.True(resumed.Exit == 0, resumed.Error);
        Assert.Contains("  context          = 16", resumed.Output);
        Assert.Contains($"resumed from {Path.Combine(run, "checkpoints", "step-2")} at step 2", resumed.Output);
        Assert.Equal([1L, 2L, 3L, 4L], MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Step));

        var straight = Run(["train", .. common, "--max-steps", "4", "--out", temp.File("straight")]);
        Assert.True(straight.Exit == 0, straight.Error);
        Assert.Equal(
            MetricsLog.Read(temp.File("straight/metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss),
            MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss));
    }
}
