using MambaByte.Core.Checkpoints;
using MambaByte.Core.Export;
using MambaByte.Train.Runs;

namespace MambaByte.Train.Models;

/// <summary>Which directory <c>--checkpoint</c> means: a model directory, or a run directory (its best/, else its latest step).</summary>
public static class ModelLocator
{
    public static string ModelDirectory(string path)
    {
        if (File.Exists(path) && GgufReader.HasMagic(path))
            throw new InvalidDataException($"--checkpoint {path}: a GGUF file (for llama.cpp); eval, generate and export read a checkpoint directory (config.json + model.safetensors), and there is no import from GGUF");
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"--checkpoint {path}: no such directory");
        if (File.Exists(Path.Combine(path, ModelCheckpoint.ConfigFileName))) return path;
        string best = Path.Combine(path, "best");
        if (File.Exists(Path.Combine(best, ModelCheckpoint.ConfigFileName))) return best;
        try
        {
            return RunDirectory.Resolve(path);
        }
        catch (InvalidDataException)
        {
            throw new FileNotFoundException($"--checkpoint {path}: no {ModelCheckpoint.ConfigFileName} here, and not a run directory with best/ or checkpoints/step-N");
        }
    }

    /// <summary>
    /// The context a checkpoint was trained with: from its safetensors metadata, else (a checkpoint written before
    /// train recorded it there) its trainer_state.json; null for a directory with neither (e.g. an official mamba_ssm one).
    /// </summary>
    public static int? TrainedContext(string modelDirectory)
    {
        if (ModelCheckpoint.TrainedContext(modelDirectory) is int context) return context;
        if (!File.Exists(Path.Combine(modelDirectory, RunDirectory.StateFile))) return null;
        return RunDirectory.ReadState(modelDirectory).Options["context"]?.GetValue<int>();
    }
}
