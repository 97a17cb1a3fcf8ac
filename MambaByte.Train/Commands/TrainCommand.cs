using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using MambaByte.Data;
using MambaByte.Train.Training;
using Spectre.Console;
using MambaByte.Train.Runs;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte train</c>: every <see cref="TrainOptions"/> property is an option (defaults printed at start and saved
/// as run.json); <c>--config run.json</c> sets them, options given on the command line win; <c>--resume DIR</c>
/// continues a run exactly.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "run.json to take options from (command-line options override it)" };
        var resume = new Option<string?>("--resume") { Description = "continue from a checkpoint directory, or a run directory's latest checkpoint" };
        var command = new Command("train", "Train a byte-level model (Mamba, Transformer or MegaByte) with checkpoints, evaluation and exact resume") { config, resume };
        var defaults = TrainOptionsLoader.ToJsonObject(new TrainOptions());
        var options = new List<(string Name, Option<string> Option)>();
        foreach ((string name, Type type, string description, _) in TrainOptionsLoader.Describe())
        {
            var option = new Option<string>("--" + name) { Description = $"{description} [default: {Display(defaults[name])}]" };
            if (type == typeof(bool)) option.Arity = ArgumentArity.ZeroOrOne;   // --carry-state alone means true
            options.Add((name, option));
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) =>
        {
            // Under mpiexec every rank runs this; rank 0 alone prints, writes checkpoints, metrics and TensorBoard.
            using DataParallel parallel = DataParallel.FromEnvironment();
            TextWriter output = parallel.IsRoot ? parse.InvocationConfiguration.Output : TextWriter.Null;
            TextWriter error = parse.InvocationConfiguration.Error;
            return Task.FromResult(parallel.RunOrAbort(() => Train(parse, cancellationToken, parallel, output, error).Result, error));
        });
        return command;

        Task<int> Train(ParseResult parse, CancellationToken cancellationToken, DataParallel parallel, TextWriter output, TextWriter error)
        {
            var given = new Dictionary<string, string>();
            foreach ((string name, Option<string> option) in options)
                if (parse.GetValue(option) is { } value) given[name] = value;
                else if (parse.GetResult(option) is { Implicit: false, Tokens.Count: 0 }) given[name] = "true";

            string? resumeFrom = parse.GetValue(resume);
            string? configPath = parse.GetValue(config);
            JsonObject? layer = null;
            string? layerSource = null;
            if (resumeFrom is not null)
            {
                if (configPath is not null) throw new ArgumentException("--config and --resume: give one (a resumed run takes its options from the checkpoint)");
                string checkpoint = RunDirectory.Resolve(resumeFrom);
                layer = RunDirectory.ReadState(checkpoint).Options;
                layerSource = Path.Combine(checkpoint, RunDirectory.StateFile);
                if (!given.ContainsKey("out") && RunDirectory.Containing(checkpoint) is { } runDirectory) given["out"] = runDirectory;
                resumeFrom = checkpoint;
            }
            else if (configPath is not null)
            {
                layer = TrainOptionsLoader.ReadConfig(configPath);
                layerSource = configPath;
            }
            TrainOptions merged = TrainOptionsLoader.Merge(layer, layerSource, given) with { Ranks = parallel.Size };

            output.WriteLine("mambabyte train: options");
            foreach (string line in TrainOptionsLoader.Lines(merged)) output.WriteLine(line);
            if (resumeFrom is not null) output.WriteLine($"  resume from    {resumeFrom}");
            if (parallel.IsDistributed) output.WriteLine($"  ranks          {parallel.Describe()}; {parallel.ShareCores()}");

            // SIGINT/SIGTERM: finish the current step, save a checkpoint, exit 0.
            using var stop = new StopSignals(cancellationToken, error);

            using var data = parallel.RootFirst(() => new TrainingData(merged));
            TrainingServices services = data.Services(parallel);
            bool interactive = parallel.IsRoot && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            TrainingOutcome outcome;
            if (interactive)
            {
                TrainingOutcome? result = null;
                var live = new LiveProgress();
                AnsiConsole.Live(live.Render()).Start(context =>
                {
                    live.Attach(context);
                    result = new Trainer(merged, services, live).Run(resumeFrom, stop.Token);
                });
                outcome = result!;
            }
            else
            {
                outcome = new Trainer(merged, services, new PlainProgress(output)).Run(resumeFrom, stop.Token);
            }
            (outcome.ExitCode == 0 ? output : error).WriteLine(outcome.ExitCode == 0 ? outcome.Message : $"mambabyte: error: {outcome.Message}");
            return Task.FromResult(outcome.ExitCode);
        }
    }

    static string Display(JsonNode? value) =>
        value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String ? $"\"{v.GetValue<string>()}\"" : value?.ToJsonString() ?? "";
}
