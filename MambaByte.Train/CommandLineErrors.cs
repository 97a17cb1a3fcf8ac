using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using MambaByte.Core.Native;

namespace MambaByte.Train;

/// <summary>
/// The last word on an exception that reaches the command line. Bad input and a failing environment, which the
/// code reports on purpose, become one line <c>mambabyte: error: …</c> and exit code 1. Anything else is a bug in
/// mambabyte and says so: the exception, where it was thrown, and how to get the stack trace (<c>--verbose</c> or
/// <c>MAMBABYTE_DEBUG=1</c>), exit code 70 (EX_SOFTWARE).
/// </summary>
public static class CommandLineErrors
{
    public const int UserErrorExitCode = 1;
    public const int BugExitCode = 70;
    public const string DebugVariable = "MAMBABYTE_DEBUG";
    public const string VerboseOption = "--verbose";

    public static int Run(TextWriter error, Func<int> action, bool verbose = false)
    {
        verbose |= Environment.GetEnvironmentVariable(DebugVariable) == "1";
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"mambabyte: error: {OneLine(Unwrap(e).Message)}");
            if (verbose) error.WriteLine(e);
            return UserErrorExitCode;
        }
        catch (Exception e)
        {
            Exception cause = Unwrap(e);
            error.WriteLine($"mambabyte: internal error (a bug in mambabyte, not a problem with the input): {cause.GetType().FullName}: {OneLine(cause.Message)}");
            error.WriteLine($"mambabyte: thrown at {Where(cause)}");
            error.WriteLine(verbose
                ? e.ToString()
                : $"mambabyte: run again with {VerboseOption} (or {DebugVariable}=1) to print the stack trace, and please report it");
            return BugExitCode;
        }
    }

    /// <summary>
    /// Errors that are the input's or the environment's, not the code's: <see cref="UserInputException"/>; a libtorch
    /// that will not load; the file system's own reports (a missing path, a permission, a full disk); a file whose
    /// contents are bad (every such check names the file); and the bad-argument and bad-format checks that
    /// mambabyte's own code throws (an <see cref="ArgumentException"/> or <see cref="FormatException"/> raised
    /// inside a library, such as a duplicate dictionary key, is a bug).
    /// </summary>
    public static bool IsUserError(Exception e) => Unwrap(e) switch
    {
        UserInputException or TorchLoadException or MambaByte.Core.Distributed.MpiSetupException => true,
        IOException or UnauthorizedAccessException => true,
        InvalidDataException or JsonException => true,
        Exception x when x.GetType() == typeof(ArgumentException) || x.GetType() == typeof(FormatException) => ThrownByMambaByte(x),
        _ => false,
    };

    static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : e;

    /// <summary>Code of this project: its namespaces (the CLI assembly itself is named mambabyte).</summary>
    static bool IsMambaByte(MethodBase? method) =>
        method?.DeclaringType?.Namespace is { } name && (name == "MambaByte" || name.StartsWith("MambaByte.", StringComparison.Ordinal));

    static bool ThrownByMambaByte(Exception e) => IsMambaByte(e.TargetSite);

    /// <summary>The method that threw (with file and line when symbols are there) and, if that is library code, the mambabyte method that called it.</summary>
    static string Where(Exception e)
    {
        StackFrame[] frames = new StackTrace(e, fNeedFileInfo: true).GetFrames();
        if (frames.Length == 0) return "an unknown place (no stack trace)";
        string where = Describe(frames[0]);
        if (!IsMambaByte(frames[0].GetMethod()) && frames.FirstOrDefault(f => IsMambaByte(f.GetMethod())) is { } ours)
            where += $", called from {Describe(ours)}";
        return where;
    }

    static string Describe(StackFrame frame)
    {
        MethodBase? method = frame.GetMethod();
        string name = method is null ? "?" : SourceName(method);
        return frame.GetFileName() is { } file ? $"{name} ({Path.GetFileName(file)}:{frame.GetFileLineNumber()})" : name;
    }

    /// <summary>Type.Method as written in the source: a lambda, iterator or async body is named after the method that holds it.</summary>
    static string SourceName(MethodBase method)
    {
        string name = Unmangle(method.Name);
        Type? type = method.DeclaringType;
        while (type is not null && type.Name.StartsWith('<'))
        {
            if (!type.Name.StartsWith("<>", StringComparison.Ordinal)) name = Unmangle(type.Name);   // <Method>d__3: a state machine
            type = type.DeclaringType;
        }
        return $"{type?.FullName}.{name}";
    }

    static string Unmangle(string name) => name.StartsWith('<') && name.IndexOf('>') is int end and > 1 ? name[1..end] : name;

    static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
