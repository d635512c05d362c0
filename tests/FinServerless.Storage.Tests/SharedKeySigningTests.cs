using Azure.Core;
using Azure.Core.Pipeline;

namespace FinServerless.Storage.Tests;

public sealed class SharedKeySigningTests
{
    [Fact]
    public void The_string_to_sign_follows_the_SharedKey_layout()
    {
        var pipeline = HttpPipelineBuilder.Build(new StorageClientOptions());
        using var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = RequestMethod.Put;
        request.Uri.Reset(new Uri("http://127.0.0.1:10000/devstoreaccount1/inbox-acme/loans%202026.csv?comp=block&blockid=QUJD%2BZA%3D%3D&Timeout=30"));
        request.Headers.SetValue("x-ms-version", "2025-11-05");
        request.Headers.SetValue("X-MS-Date", "Sun, 22 Nov 2026 07:00:00 GMT");
        request.Headers.SetValue("x-ms-blob-type", "BlockBlob");
        request.Headers.SetValue("If-None-Match", "*");
        request.Headers.SetValue("Content-Type", "text/csv");
        request.Content = RequestContent.Create(new byte[5]);

        var sts = SharedKeyAuthenticationPolicy.BuildStringToSign(request, "devstoreaccount1");

        Assert.Equal(
            "PUT\n\n\n5\n\ntext/csv\n\n\n\n*\n\n\n" +
            "x-ms-blob-type:BlockBlob\nx-ms-date:Sun, 22 Nov 2026 07:00:00 GMT\nx-ms-version:2025-11-05\n" +
            "/devstoreaccount1/devstoreaccount1/inbox-acme/loans%202026.csv\nblockid:QUJD+ZA==\ncomp:block\ntimeout:30",
            sts);
    }

    [Fact]
    public void An_empty_body_signs_an_empty_content_length()
    {
        var pipeline = HttpPipelineBuilder.Build(new StorageClientOptions());
        using var message = pipeline.CreateMessage();
        message.Request.Method = RequestMethod.Get;
        message.Request.Uri.Reset(new Uri("https://acct.blob.core.windows.net/c?restype=container&comp=list"));

        var sts = SharedKeyAuthenticationPolicy.BuildStringToSign(message.Request, "acct");

        Assert.Equal("GET\n\n\n\n\n\n\n\n\n\n\n\n/acct/c\ncomp:list\nrestype:container", sts);
    }
}
