using System.CommandLine;
using MambaByte.Core.Native;
using MambaByte.Train.Models;

namespace MambaByte.Train.Commands;

/// <summary>
/// The options several commands share, declared once: the same name, help text and default wherever they appear
/// (train declares its options from <see cref="Training.TrainOptions"/>, whose defaults these reuse).
/// </summary>
public static class CommonOptions
{
    public static Option<string> Device(string defaultValue = DeviceOption.Default) =>
        new("--device") { Description = DeviceOption.Help, DefaultValueFactory = _ => defaultValue };

    /// <summary><c>--checkpoint</c>: a model directory or a run directory (<see cref="ModelLocator.ModelDirectory"/>).</summary>
    public static Option<string> Checkpoint(string description = "model directory (config.json + model.safetensors) or a run directory (its best/)") =>
        new("--checkpoint") { Description = description, Required = true };

    public static Option<string?> CacheDir() => new("--cache-dir") { Description = "cache folder for prepared shipped datasets" };

    public static Option<string> Weights(string note = "") =>
        new("--weights") { Description = WeightsOption.Help + note, DefaultValueFactory = _ => WeightsOption.Default };

    /// <summary><c>--batch-size</c>, the name every command uses for sequences per step or per forward pass.</summary>
    public static Option<int> BatchSize(string description, int defaultValue, params string[] aliases) =>
        new("--batch-size", aliases) { Description = description, DefaultValueFactory = _ => defaultValue };
}
