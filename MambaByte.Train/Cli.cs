using System.CommandLine;
using MambaByte.Train.Commands;

namespace MambaByte.Train;

/// <summary>The <c>mambabyte</c> command tree. Tests call <see cref="Run"/> in-process with their own writers.</summary>
public static class Cli
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("MambaByte: token-free byte-level language models (Mamba, Transformer, MegaByte)");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(PrepareCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        return root;
    }

    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var config = new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        return CommandLineErrors.Run(config.Error, () => BuildRoot().Parse(args).Invoke(config));
    }
}
