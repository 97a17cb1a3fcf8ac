using System.Text;

namespace MambaByte.Tests.Baselines;

/// <summary>About 2 KB of plain English prose (written for these tests) that a tiny model must learn to compress.</summary>
internal static class TrainingText
{
    public const string Prose =
        "The lighthouse keeper kept a notebook on the table by the window. Every morning he wrote down the colour of " +
        "the sea, the direction of the wind, and the names of the boats that passed the point before noon. Most days " +
        "the list was short: the ferry to the island, two fishing boats from the harbour, and sometimes a yacht that " +
        "had lost its way in the fog. In winter the ferry ran only twice a week, and the keeper filled the empty lines " +
        "with drawings of gulls and notes about the lamp. The lamp was old and needed care. Its brass had to be " +
        "polished, its wick trimmed, and its lens cleaned of salt before the sun went down. When a storm came in from " +
        "the west, the keeper climbed the stairs every hour to make sure the light still turned. One night in March the " +
        "wind was so strong that the windows shook in their frames and the rain came sideways across the rocks. The " +
        "keeper saw a small light far out on the water, rising and falling with the waves. He watched it for a long " +
        "time, then went down to the radio and called the harbour. A boat was sent out, and before dawn the crew " +
        "brought back three tired sailors whose engine had failed near the reef. The next morning the sea was calm and " +
        "grey, and the keeper wrote in his notebook that the wind had turned to the north. Under the list of boats he " +
        "added one more line: a small boat with a broken engine, three men, all safe. Years later, when the light was " +
        "made automatic and the keeper moved to a house in the town, he took the notebooks with him. They filled a " +
        "whole shelf. Children from the school came to read them, and they always asked about the night in March. He " +
        "would open the book to the right page and show them the line, written in a hand that was still steady after a " +
        "night without sleep. Then he would tell them that the sea is patient, that it keeps no lists of its own, and " +
        "that someone on the shore should always be watching, writing down the boats, keeping the lamp clean and " +
        "bright. The children laughed at the drawings of the gulls, but they remembered the line about the three men.";

    public static byte[] Bytes => Encoding.UTF8.GetBytes(Prose);
}
