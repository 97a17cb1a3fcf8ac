using Spectre.Console;
using Spectre.Console.Rendering;

namespace MambaByte.Train.Training;

/// <summary>The interactive display: the last few events above one live status line (step, loss, bpb, lr, bytes/s, MFU, ETA).</summary>
public sealed class LiveProgress : ITrainingProgress
{
    const int EventsShown = 6;
    readonly Queue<string> events = new();
    string status = "starting…";
    LiveDisplayContext? context;

    public void Attach(LiveDisplayContext liveContext) => context = liveContext;

    public IRenderable Render()
    {
        var rows = events.Select(e => (IRenderable)new Text(e)).ToList();
        rows.Add(new Markup("[bold green]" + Markup.Escape(status) + "[/]"));
        return new Rows(rows);
    }

    public void Status(string line)
    {
        status = line;
        Refresh();
    }

    public void Event(string line)
    {
        events.Enqueue(line);
        while (events.Count > EventsShown) events.Dequeue();
        Refresh();
    }

    void Refresh()
    {
        if (context is null) return;
        context.UpdateTarget(Render());
        context.Refresh();
    }
}
