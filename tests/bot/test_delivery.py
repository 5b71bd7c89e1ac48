"""bot.delivery: the interaction token's lifetime, the fall back to the channel, transit errors
after an upload, and mentions that never ping the author of the message replied to."""

import aiohttp
import discord
import pytest

from bot.delivery import MENTION_USERS, ChannelAnswer, InteractionAnswer, Upload


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Response:
    def __init__(self, status: int, reason: str = "x") -> None:
        self.status, self.reason = status, reason


def http_error(status: int, code: int = 0) -> discord.HTTPException:
    return discord.HTTPException(Response(status), {"code": code, "message": "x"})


class FakeMessage:
    def __init__(self, filenames=()) -> None:
        self.attachments = [type("A", (), {"filename": f})() for f in filenames]


class FakeInteraction:
    """Records edits; `fail_with` is raised by the next edit(s)."""

    def __init__(self) -> None:
        self.user = type("User", (), {"id": 7})()
        self.edits: list[dict] = []
        self.fail_with: list[BaseException] = []
        self.original: FakeMessage | None = None

    async def edit_original_response(self, **kw):
        self.edits.append(kw)
        if self.fail_with:
            raise self.fail_with.pop(0)
        return FakeMessage([f.filename for f in kw.get("attachments") or []])

    async def original_response(self):
        return self.original


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, content=None, **kw):
        self.sent.append({"content": content, **kw})
        return FakeMessage([f.filename for f in kw.get("files") or []])


def upload() -> Upload:
    return Upload(
        b"png", "dream.png", discord.Embed(title="DeepDream"), None, (("source.jpg", b"jpg"),)
    )


def answer(clock: Clock, interaction: FakeInteraction, channel: FakeChannel) -> InteractionAnswer:
    fallback = ChannelAnswer(channel, requester_id=7, upload_limit=1000)
    return InteractionAnswer(
        interaction, fallback=fallback, upload_limit=1000, lifetime_s=900, margin_s=60, clock=clock
    )


async def test_answers_through_the_token_until_its_margin_then_in_the_channel():
    clock, interaction, channel = Clock(), FakeInteraction(), FakeChannel()
    a = answer(clock, interaction, channel)
    await a.status("working")
    clock.t = 839.0
    await a.deliver(upload())
    assert len(interaction.edits) == 2 and not channel.sent
    clock.t = 841.0  # within the last minute: the channel, with a mention
    assert not a.token_usable
    await a.status("ignored")  # no progress in the channel
    await a.deliver(upload())
    [sent] = channel.sent
    assert sent["content"].startswith("<@7>") and [f.filename for f in sent["files"]] == [
        "dream.png",
        "source.jpg",
    ]


async def test_a_dead_token_switches_to_the_channel_at_once():
    clock, interaction, channel = Clock(), FakeInteraction(), FakeChannel()
    a = answer(clock, interaction, channel)
    interaction.fail_with = [http_error(401, 50027)]
    await a.deliver(upload())
    assert len(channel.sent) == 1 and not a.token_usable


async def test_progress_edits_swallow_transport_errors():
    clock, interaction, channel = Clock(), FakeInteraction(), FakeChannel()
    a = answer(clock, interaction, channel)
    interaction.fail_with = [aiohttp.ClientOSError(104, "Connection reset by peer")]
    await a.status("step 3")  # does not raise
    assert a.token_usable


async def test_an_upload_that_reached_discord_before_the_connection_died_counts():
    clock, interaction, channel = Clock(), FakeInteraction(), FakeChannel()
    a = answer(clock, interaction, channel)
    interaction.fail_with = [aiohttp.ServerDisconnectedError()]
    interaction.original = FakeMessage(["dream.png", "source.jpg"])  # it did arrive
    assert await a.deliver(upload()) is interaction.original
    interaction.fail_with = [aiohttp.ServerDisconnectedError()]
    interaction.original = FakeMessage(["preview.jpg"])  # it did not
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await a.deliver(upload())


def test_mentions_never_ping_the_author_replied_to():
    assert MENTION_USERS.users and not MENTION_USERS.replied_user
    assert not MENTION_USERS.everyone and not MENTION_USERS.roles


async def test_without_a_channel_to_fall_back_on_a_dead_token_is_said_plainly():
    # A user-installed command in a DM between users: only the interaction can answer.
    from bot.delivery import TokenExpired

    clock, interaction = Clock(), FakeInteraction()
    a = InteractionAnswer(
        interaction, fallback=None, upload_limit=1000, lifetime_s=900, margin_s=60, clock=clock
    )
    clock.t = 899.0
    with pytest.raises(TokenExpired, match="15 minutes"):
        await a.deliver(upload())
    await a.fail("cancelled")  # nothing to tell it through, and no error either
    assert interaction.edits == []


class EditableMessage(FakeMessage):
    def __init__(self, filenames=()) -> None:
        super().__init__(filenames)
        self.edits: list[dict] = []

    async def edit(self, **kw):
        self.edits.append(kw)


class StatusChannel(FakeChannel):
    async def send(self, content=None, **kw):
        await super().send(content, **kw)
        return EditableMessage()


async def test_a_failure_said_in_the_channel_takes_the_cancel_button_away():
    # issue 19 #10: a failed or cancelled dream answered in the channel kept its Cancel button
    channel = StatusChannel()
    a = ChannelAnswer(channel, requester_id=7, upload_limit=1000)
    cancel = discord.ui.View()
    await a.status("⏳ Queued", view=cancel)
    assert channel.sent[0]["view"] is cancel
    await a.fail("Cancelled.")
    [edit] = a._status_message.edits
    assert edit["content"] == "<@7> Cancelled." and edit["view"] is None


async def test_a_spoiler_upload_blurs_every_file_and_its_preview_too():
    embed = discord.Embed(title="DeepDream").set_image(url="attachment://dream.png")
    embed.set_thumbnail(url="attachment://source.jpg")
    hidden = Upload(b"png", "dream.png", embed, None, (("source.jpg", b"jpg"),)).as_spoiler()
    assert [f.filename for f in hidden.files()] == ["SPOILER_dream.png", "SPOILER_source.jpg"]
    assert not hidden.embed.image.url and not hidden.embed.thumbnail.url
    assert hidden.as_spoiler().filename == "SPOILER_dream.png"  # never SPOILER_SPOILER_
    channel = FakeChannel()
    await ChannelAnswer(channel, 7, 1000).status("dreaming", b"jpeg", spoiler=True)
    assert [f.filename for f in channel.sent[0]["files"]] == ["SPOILER_preview.jpg"]


async def test_a_components_v2_reply_in_the_channel_has_no_content_and_no_embeds():
    # Discord refuses content or embeds beside IS_COMPONENTS_V2: the gallery says who it is for
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(discord.ui.Container(discord.ui.TextDisplay("Dreamed for <@7>")))
    gallery = Upload(b"png", "dream-1.png", None, layout, (("source.jpg", b"jpg"),))
    channel = FakeChannel()
    await ChannelAnswer(channel, requester_id=7, upload_limit=1000).deliver(gallery)
    [sent] = channel.sent
    assert sent["content"] is None and "embeds" not in sent and sent["view"] is layout
    assert [f.filename for f in sent["files"]] == ["dream-1.png", "source.jpg"]
    assert gallery.embeds == [] and gallery.is_layout and not upload().is_layout
