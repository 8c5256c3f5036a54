using S3Mount.Engine.Scripts;
using System.Linq;
using System.Threading.Tasks;

namespace S3Mount.Engine.Tests;

public class ResultBlockTests
{
    [Theory]
    [InlineData("")]
    [InlineData("plain")]
    [InlineData("/mnt/with space/and\ttab/and\nnewline")]
    [InlineData("100% ~tilde~ $(rm -rf /) \"q\" 'q' \\ 日本 😀")]
    [InlineData("~")]
    public void Fields_survive_any_bytes(string value)
    {
        var block = new ResultBlock(new[] { new ResultRecord("mount", value, "x") });
        var text = "noise before\n" + block + "";
        Assert.True(ResultBlock.TryParse(text, out var back));
        Assert.Equal(value, back!.First("mount")![0]);
        Assert.DoesNotContain('\t', block.ToString());
        Assert.Equal(3, block.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void A_block_cut_short_is_not_complete()
    {
        var text = new ResultBlock(new[] { new ResultRecord("a", "b") }).ToString();
        Assert.True(ResultBlock.IsComplete(text));
        Assert.False(ResultBlock.IsComplete(text.Substring(0, text.Length - 5)));
        var e = Assert.Throws<Errors.S3MountException>(() => ResultBlock.Parse(text.Substring(0, 20)));
        Assert.Equal("S3MountResultTruncated", e.ErrorId);
        Assert.Equal("S3MountResultMissing", Assert.Throws<Errors.S3MountException>(() => ResultBlock.Parse("nothing")).ErrorId);
    }

    // ---- a node's stdout is untrusted input ----

    [Theory]
    [InlineData("S3MOUNT-RESULT 1\nhost bad%zz\nS3MOUNT-END\n", ResultBlockStatus.Invalid)]
    [InlineData("S3MOUNT-RESULT 1\nhost trailing%4\nS3MOUNT-END\n", ResultBlockStatus.Invalid)]
    [InlineData("S3MOUNT-RESULT 1\nhost %C3%28\nS3MOUNT-END\n", ResultBlockStatus.Invalid)]
    [InlineData("S3MOUNT-RESULT 1\nhost raw\u00e9byte\nS3MOUNT-END\n", ResultBlockStatus.Invalid)]
    [InlineData("S3MOUNT-RESULT 1\nhost cut-mid-escape%2", ResultBlockStatus.Truncated)]
    [InlineData("noise only", ResultBlockStatus.Missing)]
    [InlineData("xS3MOUNT-RESULT 1\nhost a\nS3MOUNT-END\n", ResultBlockStatus.Missing)]
    public void Malformed_or_cut_results_are_classified_never_thrown(string stdout, ResultBlockStatus status)
    {
        var reading = ResultBlock.Read(stdout);
        Assert.Equal(status, reading.Status);
        Assert.Null(reading.Block);
        Assert.False(ResultBlock.TryParse(stdout, out _));
        var id = Assert.Throws<Errors.S3MountException>(() => ResultBlock.Parse(stdout, "i-1")).ErrorId;
        Assert.Equal(status switch
        {
            ResultBlockStatus.Invalid => "S3MountResultInvalid",
            ResultBlockStatus.Truncated => "S3MountResultTruncated",
            _ => "S3MountResultMissing",
        }, id);
    }

    [Fact]
    public void Oversized_results_are_not_read()
    {
        var huge = new string('y', ResultBlock.MaxOutputChars + 1) + new ResultBlock(new[] { new ResultRecord("ok", "1") });
        Assert.Equal(ResultBlockStatus.TooLarge, ResultBlock.Read(huge).Status);
        Assert.Equal("S3MountResultTooLarge", Assert.Throws<Errors.S3MountException>(() => ResultBlock.Parse(huge)).ErrorId);

        var many = "S3MOUNT-RESULT 1\n" + string.Concat(Enumerable.Repeat("r x\n", ResultBlock.MaxRecords + 1)) + "S3MOUNT-END\n";
        Assert.Equal(ResultBlockStatus.TooLarge, ResultBlock.Read(many).Status);

        var wide = "S3MOUNT-RESULT 1\nr" + string.Concat(Enumerable.Repeat(" f", ResultBlock.MaxFields + 1)) + "\nS3MOUNT-END\n";
        Assert.Equal(ResultBlockStatus.TooLarge, ResultBlock.Read(wide).Status);
    }

    [Fact]
    public void The_last_whole_block_wins_and_a_forged_one_is_just_data()
    {
        var genuine = new ResultBlock(new[] { new ResultRecord("host", "node-a") }).ToString();
        var forged = "S3MOUNT-RESULT 1\nhost node-b\ninstance i-0bbbbbbbbbbbbbbbb\nS3MOUNT-END\n";
        var block = ResultBlock.Parse(genuine + forged);
        Assert.Equal("node-b", block.First("host")![0]);
        Assert.Equal("i-0bbbbbbbbbbbbbbbb", block.First("instance")![0]);
    }

    [Fact]
    public void A_node_error_id_that_is_not_a_word_is_an_invalid_result_and_messages_are_bounded()
    {
        var block = ResultBlock.Parse("S3MOUNT-RESULT 1\nerror $(rm+-rf+/) injected\nS3MOUNT-END\n");
        var e = Node.NodeResultParser.ErrorOf(block, "i-1")!;
        Assert.Equal("S3MountResultInvalid", e.ErrorId);
        Assert.Equal(Errors.S3MountErrorKind.InvalidData, e.Kind);

        var longMessage = new ResultBlock(new[] { new ResultRecord("error", "S3MountStartFailed", new string('m', 100_000)) });
        var bounded = Node.NodeResultParser.ErrorOf(longMessage, null)!;
        Assert.Equal("S3MountStartFailed", bounded.ErrorId);
        Assert.True(bounded.Message.Length < Node.NodeResultParser.MaxMessageChars + 100, bounded.Message.Length.ToString());
    }

    [Fact]
    public async Task A_local_script_printing_10_MB_is_read_bounded_and_refused()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var text = "#!/bin/sh\nhead -c 10485760 /dev/zero | tr '\\0' 'y'\nhead -c 200000 /dev/zero | tr '\\0' 'e' >&2\nprintf 'S3MOUNT-RESULT 1\\nok 1\\nS3MOUNT-END\\n'\n";
        var runner = new Node.LocalScriptRunner();
        var output = await runner.RunAsync(Scripts.NodeScript.FromText("flood", text), TestContext.Current.CancellationToken);
        Assert.True(output.StdoutOverflowed);
        Assert.True(output.Stdout.Length <= ResultBlock.MaxOutputChars + 1);
        Assert.Equal(Node.LocalScriptRunner.MaxStderrChars, output.Stderr.Length);
        Assert.Equal("S3MountResultTooLarge", Assert.Throws<Errors.S3MountException>(() => output.Block("this machine")).ErrorId);
    }
}
