using System.Text.Json;
using MambaByte.Core.Native;

namespace MambaByte.Train;

/// <summary>Turns expected failures (bad input, missing files, a libtorch that will not load) into one line and exit code 1.</summary>
public static class CommandLineErrors
{
    public static int Run(TextWriter error, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"mambabyte: error: {OneLine(e.Message)}");
            if (Environment.GetEnvironmentVariable("MAMBABYTE_DEBUG") == "1") error.WriteLine(e);
            return 1;
        }
    }

    public static bool IsUserError(Exception e) =>
        e is IOException or InvalidDataException or ArgumentException or FormatException or JsonException
            or TorchLoadException or UnauthorizedAccessException or InvalidOperationException or NotSupportedException;

    static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
