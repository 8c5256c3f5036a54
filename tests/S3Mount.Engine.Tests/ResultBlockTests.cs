using S3Mount.Engine.Scripts;

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
}
