using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures;
using MambaByte.Core.Files;

namespace MambaByte.Core.Checkpoints;

/// <summary>
/// A model directory in the layout <c>mamba_ssm</c> and Hugging Face use: <c>config.json</c> (for Mamba, the
/// reference MambaConfig form) and <c>model.safetensors</c> (the reference parameter names).
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "model.safetensors";

    /// <summary>Hugging Face transformers' Mamba names that differ from mamba_ssm's, mapped to ours.</summary>
    static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>
    {
        ["backbone.embeddings.weight"] = "backbone.embedding.weight",
    };

    /// <summary>
    /// Writes config.json and model.safetensors into <paramref name="directory"/> (created if needed), each to a
    /// temporary name then renamed. A tied lm_head.weight is left out, as safetensors conversions of the
    /// official checkpoints do; <see cref="Load"/> restores the tie.
    /// </summary>
    public static void Save(ByteLanguageModel model, string directory) => Save(model, directory, trainedContext: null);

    /// <summary>
    /// <see cref="Save(ByteLanguageModel, string)"/> recording the window length the model was trained at in the
    /// safetensors metadata (<see cref="TrainedContextKey"/>), where eval finds its default context.
    /// </summary>
    public static void Save(ByteLanguageModel model, string directory, int? trainedContext)
    {
        Directory.CreateDirectory(directory);
        string configPath = Path.Combine(directory, ConfigFileName);
        AtomicFile.WriteAllText(configPath, model.ConfigJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var stateDict = model.state_dict();
        var tensors = stateDict.Where(p => !IsTiedCopy(model, p.Key)).ToList();
        Safetensors.Write(Path.Combine(directory, WeightsFileName), tensors,
            Metadata(model, trainedContext));
    }

    /// <summary>The safetensors metadata key holding the training context (bytes per window) of a checkpoint written by train.</summary>
    public const string TrainedContextKey = "trained_context";

    static Dictionary<string, string> Metadata(ByteLanguageModel model, int? trainedContext)
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["architecture"] = model.Architecture };
        if (trainedContext is int context) metadata[TrainedContextKey] = context.ToString(CultureInfo.InvariantCulture);
        return metadata;
    }

    /// <summary>
    /// The training context recorded in a model directory's safetensors metadata, or null when it has none (an
    /// official mamba_ssm checkpoint, or one written before the key existed). A malformed value names the file.
    /// </summary>
    public static int? TrainedContext(string directory)
    {
        string weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weightsPath)) return null;
        if (!Safetensors.ReadHeader(weightsPath).Metadata.TryGetValue(TrainedContextKey, out string? text)) return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int context) && context > 0
            ? context
            : throw new InvalidDataException($"{weightsPath}: metadata '{TrainedContextKey}' must be a positive integer, got \"{text}\"");
    }

    /// <summary>
    /// Builds the model config.json describes and fills it from model.safetensors, checking every name, shape
    /// and dtype first; f16/bf16/f64 weights convert to the model's dtype (float32). Fails with
    /// <see cref="InvalidDataException"/> naming the file and listing missing keys, unexpected keys and shape
    /// or dtype mismatches.
    /// </summary>
    public static ByteLanguageModel Load(string directory, Device device)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such checkpoint directory");
        string configPath = Path.Combine(directory, ConfigFileName);
        string weightsPath = Path.Combine(directory, WeightsFileName);
        ByteLanguageModel model = ModelFactory.FromConfigFile(configPath);
        try
        {
            LoadWeights(model, weightsPath);
            model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies the tensors of a safetensors file into <paramref name="model"/> after checking them all.</summary>
    public static void LoadWeights(ByteLanguageModel model, string weightsPath)
    {
        Dictionary<string, Tensor> stored = Safetensors.Read(weightsPath);
        try
        {
            var byName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, tensor) in stored) byName[Aliases.GetValueOrDefault(name, name)] = tensor;

            var stateDict = model.state_dict();
            var problems = new List<string>();
            var missing = stateDict.Keys.Where(k => !byName.ContainsKey(k) && !IsTiedCopy(model, k)).ToList();
            var unexpected = byName.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
            if (missing.Count > 0) problems.Add("missing keys: " + string.Join(", ", missing));
            if (unexpected.Count > 0) problems.Add("unexpected keys: " + string.Join(", ", unexpected));
            foreach (var (name, target) in stateDict)
            {
                if (!byName.TryGetValue(name, out Tensor? source)) continue;
                if (!source.shape.SequenceEqual(target.shape))
                    problems.Add($"'{name}': shape [{string.Join(", ", source.shape)}] in the file vs [{string.Join(", ", target.shape)}] in the model");
                if (!source.is_floating_point())
                    problems.Add($"'{name}': dtype {Safetensors.NameOf(source.dtype)} where a floating-point weight is expected");
            }
            if (problems.Count > 0)
                throw new InvalidDataException($"{weightsPath}: does not match the model of {ConfigFileName}: {string.Join("; ", problems)}");

            using var noGrad = no_grad();
            foreach (var (name, target) in stateDict)
                if (byName.TryGetValue(name, out Tensor? source)) target.copy_(source);
        }
        finally
        {
            foreach (Tensor t in stored.Values) t.Dispose();
        }
    }

    // lm_head.weight is the embedding when config.json says tie_embeddings (the reference key, shared by every architecture here).
    static bool IsTiedCopy(ByteLanguageModel model, string key) =>
        key == "lm_head.weight" && model.ConfigJson()["tie_embeddings"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
}
