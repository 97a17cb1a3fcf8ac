using System.Text.Json.Nodes;
using MambaByte.Core.Architectures;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Training;

namespace MambaByte.Tests.Jobs;

public sealed class TrainOptionsTests
{
    [Fact]
    public void Config_file_values_apply_and_command_line_options_override_them()
    {
        var config = new JsonObject { ["lr"] = 0.005, ["context"] = 64, ["arch"] = "transformer", ["tensorboard"] = false };
        TrainOptions options = TrainOptionsLoader.Merge(config, "run.json", new Dictionary<string, string> { ["context"] = "128", ["max-bytes"] = "1e6" });
        Assert.Equal(0.005, options.Lr);
        Assert.Equal("transformer", options.Arch);
        Assert.False(options.Tensorboard);
        Assert.Equal(128, options.Context);                 // the command line wins
        Assert.Equal(1_000_000, options.MaxBytes);
        Assert.Equal(new TrainOptions().BatchSize, options.BatchSize);   // untouched: the default

        // run.json round-trips: the saved options replay to an equal record.
        JsonObject saved = TrainOptionsLoader.ToJsonObject(options);
        Assert.Equal(options, TrainOptionsLoader.Merge(saved, "run.json", new Dictionary<string, string>()));
        Assert.False(saved.ContainsKey("bytes-per-step"));
    }

    [Fact]
    public void Unknown_or_malformed_options_fail_naming_the_file_and_key()
    {
        var unknown = Assert.Throws<InvalidDataException>(() => TrainOptionsLoader.Merge(new JsonObject { ["learning-rate"] = 1 }, "cfg/run.json", new Dictionary<string, string>()));
        Assert.StartsWith("cfg/run.json: unknown option 'learning-rate'", unknown.Message);
        var malformed = Assert.Throws<ArgumentException>(() => TrainOptionsLoader.Merge(new JsonObject { ["context"] = "long" }, "cfg/run.json", new Dictionary<string, string>()));
        Assert.Equal("cfg/run.json: 'context' long: expected an integer", malformed.Message);
        var invalid = Assert.Throws<ArgumentException>(() => TrainOptionsLoader.Merge(null, null, new Dictionary<string, string> { ["arch"] = "rnn" }));
        Assert.Equal($"--arch rnn: expected {ArchitectureRegistry.NamesText}", invalid.Message);

        using var temp = new TempDir();
        File.WriteAllText(temp.File("run.json"), "{ \"lr\": ");
        var error = new StringWriter();
        Assert.Equal(1, Cli.Run(["train", "--config", temp.File("run.json")], new StringWriter(), error));
        Assert.StartsWith($"mambabyte: error: {temp.File("run.json")}: not valid JSON", error.ToString());
    }
}
