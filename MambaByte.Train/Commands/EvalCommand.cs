using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Data;
using MambaByte.Train.Evaluation;
using MambaByte.Train.Models;
using MambaByte.Train.Training;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte eval</c>: bits-per-byte of a checkpoint over every byte of one or more datasets exactly once —
/// windows of the trained context (with a stride), for Mamba also the split with the state carried, and
/// (<c>--method document</c>) lm-evaluation-harness's document-level figure.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint("model directory (config.json + model.safetensors; an official mamba_ssm one works as is) or a run directory (its best/)");
        var data = new Option<string[]>("--data") { Description = "a raw file, a prepared store or a shipped dataset (name or path); repeat for several", Required = true, AllowMultipleArgumentsPerToken = true };
        var split = new Option<string>("--split") { Description = "split of a store to score (ignored for a raw file)", DefaultValueFactory = _ => "test" };
        var context = new Option<int?>("--context") { Description = "window length [default: the checkpoint's training context, else 1024]" };
        var stride = new Option<int?>("--stride") { Description = "window advance; later windows score only their new bytes [default: the context]" };
        var contexts = new Option<string?>("--contexts") { Description = "comma-separated context lengths for the length-extrapolation table, e.g. 256,1024,4096" };
        var batch = CommonOptions.BatchSize("windows per forward pass", new TrainOptions().BatchSize);
        var maxBytes = new Option<long>("--max-bytes") { Description = "score only the first N bytes of each split/file (0 = all)", DefaultValueFactory = _ => 0 };
        var device = CommonOptions.Device();
        var json = new Option<bool>("--json") { Description = "print the result as JSON" };
        var report = new Option<string?>("--report") { Description = "write report.md, report.json and report.csv into this directory" };
        var cacheDir = CommonOptions.CacheDir();
        var method = new Option<string>("--method")
        {
            Description = "comma-separated: windowed (any model), carried-state (Mamba: the split as one stream, state carried), " +
                          "document (every byte of every document, each from the start state: lm-evaluation-harness bits_per_byte), or all",
            DefaultValueFactory = _ => "windowed,carried-state",
        };
        var weights = CommonOptions.Weights("; scores the model with its matrices rounded to that format");
        var command = new Command("eval", "Bits-per-byte of a checkpoint on files, stores or datasets (every byte scored once)")
        {
            checkpoint, data, split, context, stride, contexts, batch, maxBytes, device, json, report, cacheDir, method, weights,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            WeightFormat format = WeightsOption.Parse(parse.GetValue(weights)!);
            TorchRuntime.EnsureLoaded();
            string modelDirectory = ModelLocator.ModelDirectory(parse.GetValue(checkpoint)!);
            using ByteLanguageModel model = ModelCheckpoint.Load(modelDirectory, DeviceOption.Parse(parse.GetValue(device)!));
            WeightsOption.Apply(model, format);
            int windowContext = parse.GetValue(context) ?? ModelLocator.TrainedContext(modelDirectory) ?? 1024;
            int windowStride = parse.GetValue(stride) ?? windowContext;
            int[] sweep = ParseContexts(parse.GetValue(contexts));
            int batchSize = parse.GetValue(batch);
            HashSet<string> methods = ParseMethods(parse.GetValue(method)!);
            bool recurrent = ArchitectureRegistry.Get(model.Architecture, "--checkpoint").CanCarryState;

            var results = new List<EvalRow>();
            var sweepRows = new List<EvalRow>();
            foreach (string source in parse.GetValue(data)!)
            {
                EvalData d = EvalData.Read(source, parse.GetValue(split)!, parse.GetValue(maxBytes), parse.GetValue(cacheDir));
                (string name, string splitName, byte[] bytes) = (d.Name, d.Split, d.Bytes);
                if (methods.Contains(Windowed))
                {
                    BitsPerByteResult windowed = BitsPerByteEvaluator.Windowed(model, [bytes], windowContext, windowStride, batchSize, cancellationToken);
                    results.Add(new EvalRow(name, splitName, Windowed, windowContext, windowStride, windowed.BitsPerByte, windowed.BytesScored));
                }
                if (methods.Contains(Carried) && recurrent)
                {
                    BitsPerByteResult carried = BitsPerByteEvaluator.CarriedState(model, [bytes], windowContext, cancellationToken);
                    results.Add(new EvalRow(name, splitName, Carried, windowContext, windowContext, carried.BitsPerByte, carried.BytesScored));
                }
                if (methods.Contains(Document))
                {
                    BitsPerByteResult document = BitsPerByteEvaluator.Document(model, d.Documents, windowContext, d.StartByte, recurrent, batchSize, cancellationToken);
                    results.Add(new EvalRow(name, splitName, Document, windowContext, windowContext, document.BitsPerByte, document.BytesScored));
                }
                foreach (int c in sweep)
                {
                    BitsPerByteResult r = BitsPerByteEvaluator.Windowed(model, [bytes], c, c, batchSize, cancellationToken);
                    sweepRows.Add(new EvalRow(name, splitName, "windowed", c, c, r.BitsPerByte, r.BytesScored));
                }
            }

            if (results.Count == 0)
                throw new ArgumentException($"--method {parse.GetValue(method)}: nothing to score for a {model.Architecture} model (carried-state needs a recurrent state)");
            var result = new EvalReport(Path.GetFullPath(modelDirectory), model.Architecture, model.ParameterCount,
                model.TrainingFlopsPerByte(windowContext) / 3, results, sweepRows);
            if (parse.GetValue(report) is { } reportDirectory) result.WriteTo(reportDirectory);
            if (parse.GetValue(json))
            {
                output.WriteLine(result.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return Task.FromResult(0);
            }
            string weightNote = format == WeightFormat.Fp32 ? "" : $", {WeightsOption.Name(format)} weights";
            output.WriteLine($"model    {result.Architecture}, {result.Parameters:N0} parameters, {result.FlopsPerByte:G4} FLOPs/byte{weightNote} ({modelDirectory})");
            foreach (EvalRow r in results)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Data}:{r.Split,-10} {r.Method,-14} context {r.Context,6} stride {r.Stride,6}   {r.BitsPerByte:F4} bits/byte over {r.BytesScored:N0} bytes"));
            foreach (EvalRow r in sweepRows)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Data}:{r.Split,-10} sweep          context {r.Context,6}   {r.BitsPerByte:F4} bits/byte"));
            if (parse.GetValue(report) is { } dir) output.WriteLine($"report   {Path.GetFullPath(dir)}/report.{{md,json,csv}}");
            return Task.FromResult(0);
        });
        return command;
    }

    const string Windowed = "windowed", Carried = "carried-state", Document = "document";

    static HashSet<string> ParseMethods(string text)
    {
        string[] known = [Windowed, Carried, Document];
        var methods = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        if (methods.Remove("all")) methods.UnionWith(known);
        if (methods.Count == 0 || methods.Any(m => !known.Contains(m)))
            throw new ArgumentException($"--method {text}: expected a comma-separated list of {string.Join(", ", known)}, or all");
        return methods;
    }

    static int[] ParseContexts(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int c) && c > 0
                ? c
                : throw new ArgumentException($"--contexts {text}: expected comma-separated positive integers"))
            .ToArray();
    }
}
